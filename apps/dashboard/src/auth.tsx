import { createContext, useContext, type ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { api, ApiError, type Me } from './api';
import { useLoad } from './hooks';

interface Auth {
  /** Who is logged in; null when the controller could not say (the pages still work, as far as it lets them). */
  me: Me | null;
  reload: () => void;
}

const AuthContext = createContext<Auth>({ me: null, reload: () => {} });

export const useAuth = () => useContext(AuthContext);

/** Asks GET /api/me once; a 401 sends the browser to the login page, which comes back here after. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const me = useLoad('me', () => api.me());
  if (me.loading && !me.data && !me.error) return <p className="muted">Loading…</p>;
  if (me.error instanceof ApiError && me.error.status === 401) return <LoginRedirect />;
  return (
    <AuthContext.Provider value={{ me: me.data ?? null, reload: me.reload }}>{children}</AuthContext.Provider>
  );
}

export function LoginRedirect() {
  const location = useLocation();
  const next = location.pathname + location.search;
  return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
}
