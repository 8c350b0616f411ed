import { NavLink, Outlet, useNavigate } from 'react-router';
import { api } from '../api';
import { useAuth } from '../auth';

export function Layout() {
  const { me } = useAuth();
  const navigate = useNavigate();
  const logout = async () => {
    await api.logout();
    navigate('/login');
  };
  return (
    <>
      <header className="top no-print">
        <span className="brand">vmfarm</span>
        <nav>
          <NavLink to="/matrices">Matrices</NavLink>
          <NavLink to="/images">Images</NavLink>
          <NavLink to="/schedules">Schedules</NavLink>
          <NavLink to="/history">History</NavLink>
          <NavLink to="/certification">Certification</NavLink>
          <NavLink to="/known-issues">Known issues</NavLink>
          <NavLink to="/notifications">Notifications</NavLink>
          <NavLink to="/retention">Retention</NavLink>
          {me?.role === 'admin' ? <NavLink to="/tokens">Tokens</NavLink> : null}
        </nav>
        {me ? (
          <span className="who">
            <span data-testid="me">
              {me.name} ({me.role}
              {me.tenant ? `, ${me.tenant}` : ''})
            </span>
            <button type="button" onClick={() => void logout()}>
              Log out
            </button>
          </span>
        ) : null}
      </header>
      <main>
        <Outlet />
      </main>
    </>
  );
}
