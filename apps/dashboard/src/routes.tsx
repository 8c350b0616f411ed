import { createBrowserRouter, Navigate, type RouteObject } from 'react-router';
import { AuthProvider } from './auth';
import { Layout } from './components/Layout';
import { CertificationIndex, ImageCertification, TargetCertification } from './pages/Certification';
import { History } from './pages/History';
import { Images } from './pages/Images';
import { KnownIssues } from './pages/KnownIssues';
import { Notifications } from './pages/Notifications';
import { Retention } from './pages/Retention';
import { Login } from './pages/Login';
import { Matrices } from './pages/Matrices';
import { MatrixPage } from './pages/Matrix';
import { MatrixRegressions, ScheduleRegressions } from './pages/Regressions';
import { RunPage } from './pages/Run';
import { Schedules } from './pages/Schedules';
import { Tokens } from './pages/Tokens';

export const routes: RouteObject[] = [
  { path: '/login', element: <Login /> },
  {
    element: (
      <AuthProvider>
        <Layout />
      </AuthProvider>
    ),
    children: [
      { index: true, element: <Navigate to="/matrices" replace /> },
      { path: 'matrices', element: <Matrices /> },
      { path: 'matrices/:id', element: <MatrixPage /> },
      { path: 'matrices/:id/regressions', element: <MatrixRegressions /> },
      { path: 'runs/:id', element: <RunPage /> },
      { path: 'images', element: <Images /> },
      { path: 'schedules', element: <Schedules /> },
      { path: 'schedules/:id/regressions', element: <ScheduleRegressions /> },
      { path: 'history', element: <History /> },
      { path: 'certification', element: <CertificationIndex /> },
      { path: 'certification/targets/:id', element: <TargetCertification /> },
      { path: 'certification/images/:sha256', element: <ImageCertification /> },
      { path: 'tokens', element: <Tokens /> },
      { path: 'known-issues', element: <KnownIssues /> },
      { path: 'notifications', element: <Notifications /> },
      { path: 'retention', element: <Retention /> },
      { path: '*', element: <p className="error">No such page.</p> },
    ],
  },
];

export const router = createBrowserRouter(routes);
