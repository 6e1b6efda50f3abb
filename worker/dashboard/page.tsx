/** @jsxImportSource hono/jsx */
import { raw } from "hono/html";
import { DASHBOARD_SCRIPT } from "./script";
import { DASHBOARD_CSS } from "./styles";

/**
 * The dashboard's page: public, holds no data. It asks for a token, keeps it
 * in sessionStorage, and fills `#view` with `/dashboard/view`, which the
 * token must be allowed to read.
 */
export function DashboardPage() {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>edgeq dashboard</title>
        <style>{raw(DASHBOARD_CSS)}</style>
      </head>
      <body>
        <header class="top">
          <h1>
            edgeq <span>dashboard</span>
          </h1>
          <span class="spacer" />
          <span id="updated" />
          <button id="forget" type="button" hidden>
            Forget token
          </button>
        </header>
        <form id="login" hidden>
          <h2>Sign in</h2>
          <label for="token">The admin token, or a token with the manage scope on every queue (*).</label>
          <input id="token" type="password" autocomplete="off" required />
          <button class="primary" type="submit">
            Open the dashboard
          </button>
          <p id="login-error" />
          <p class="reason">The token stays in this tab's session storage and is sent only to this server.</p>
        </form>
        <main id="main" hidden>
          <p id="notice" class="notice" role="status" />
          <div id="view" aria-live="polite" />
        </main>
        <script>{raw(DASHBOARD_SCRIPT)}</script>
      </body>
    </html>
  );
}
