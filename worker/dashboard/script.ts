/**
 * The dashboard's only script, plain and inline: keeps the token in
 * sessionStorage (never a cookie, never localStorage), fetches the
 * server-rendered view with it every 5 seconds, and sends the buttons'
 * requests to the API.
 */
export const DASHBOARD_SCRIPT = `
(() => {
  const KEY = "edgeq.token";
  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const main = $("main"), view = $("view"), login = $("login"), updated = $("updated"), notice = $("notice");
  const query = new URLSearchParams(location.search);
  let timer;

  const headers = (json) => Object.assign(
    { authorization: "Bearer " + sessionStorage.getItem(KEY) },
    json ? { "content-type": "application/json" } : {});

  function ask(message) {
    clearTimeout(timer);
    login.hidden = false;
    main.hidden = true;
    $("forget").hidden = true;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  async function refresh() {
    clearTimeout(timer);
    if (!sessionStorage.getItem(KEY)) return ask();
    try {
      const res = await fetch("/dashboard/view?" + query, { headers: headers() });
      if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(KEY);
        return ask(res.status === 401 ? "That token is not valid." : "That token cannot manage every queue.");
      }
      if (!res.ok) throw new Error("HTTP " + res.status);
      view.innerHTML = await res.text();
      login.hidden = true;
      main.hidden = false;
      $("forget").hidden = false;
      updated.textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (err) {
      updated.textContent = "Refresh failed (" + err.message + "); retrying";
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  login.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    refresh();
  });

  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    view.innerHTML = "";
    ask();
  });

  view.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const { action, queue, id } = button.dataset;
    const base = "/v1/queues/" + encodeURIComponent(queue);
    const one = id ? "?id=" + encodeURIComponent(id) : "";
    const request = {
      redrive: ["POST", base + "/dead-letters/redrive", id ? { ids: [id] } : {}],
      delete: ["DELETE", base + "/dead-letters" + one],
      pause: ["POST", base + "/pause"],
      resume: ["POST", base + "/resume"],
    }[action];
    if (!request) return;
    if (action === "delete" && !confirm(id ? "Delete this dead letter?" : "Delete every dead letter of " + queue + "?")) return;
    button.disabled = true;
    const [method, url, body] = request;
    try {
      const res = await fetch(url, { method, headers: headers(body), body: body && JSON.stringify(body) });
      const answer = await res.json().catch(() => ({}));
      notice.textContent = res.ok
        ? action + ": done" + (answer.redriven !== undefined ? " (" + answer.redriven + " redriven)" : "")
          + (answer.remaining ? " (" + answer.remaining + " left: the queue is at its maxDepth)" : "")
          + (answer.deleted !== undefined ? " (" + answer.deleted + " deleted)" : "")
        : action + " failed: " + ((answer.error && answer.error.message) || "HTTP " + res.status);
      notice.className = res.ok ? "notice ok" : "notice error";
    } catch (err) {
      notice.textContent = action + " failed: " + err.message;
      notice.className = "notice error";
    }
    refresh();
  });

  refresh();
})();
`;
