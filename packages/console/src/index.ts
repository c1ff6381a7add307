export { type ConsoleOptions, consoleRoutes } from './routes.ts';
