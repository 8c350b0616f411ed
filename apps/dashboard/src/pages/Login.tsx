import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api } from '../api';

/** Paste an API token: POST /api/session turns it into an HttpOnly cookie the API and EventSource use. */
export function Login() {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = params.get('next');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api.login({ body: { token: token.trim() } });
      // Only paths of this site: `next` comes from the URL.
      navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/matrices', { replace: true });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main className="login">
      <h1>vmfarm</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          placeholder="vmf_…"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
        />
        <button type="submit">Log in</button>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
      <p className="muted">
        <code>vmfarm serve</code> prints the first admin token and writes it to{' '}
        <code>.vmfarm/admin.token</code>; an admin creates more with <code>vmfarm token create</code>.
      </p>
    </main>
  );
}
