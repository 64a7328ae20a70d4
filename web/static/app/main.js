// The console's shell: sign-in with an API token, navigation by role, and a
// hash router that mounts one view at a time.
import { api, ApiError, getToken, onAuthLost, setToken } from "./api.js";
import { banner } from "./ui.js";
import * as mapView from "./map.js";
import * as pickupsView from "./pickups.js";
import * as planView from "./plan.js";
import * as yardView from "./yard.js";
import * as devicesView from "./devices.js";
import * as reportsView from "./reports.js";

const views = { map: mapView, pickups: pickupsView, plan: planView, yard: yardView, devices: devicesView, reports: reportsView };
const state = { me: null, config: {}, unmount: null };

async function whoami() {
  return api("/auth/whoami");
}

function allowed(view) {
  const link = document.querySelector(`#nav a[data-view="${view}"]`);
  return link && state.me && link.dataset.roles.split(" ").includes(state.me.role);
}

async function route() {
  const name = (location.hash.replace(/^#\//, "").split("?")[0] || "map").split("/")[0];
  if (!state.me) return;
  const view = views[name] && allowed(name) ? name : "map";
  document.querySelectorAll("#nav a").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === view);
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (state.unmount) state.unmount();
  state.unmount = null;
  const main = document.getElementById("view");
  main.replaceChildren();
  main.dataset.view = view;
  try {
    state.unmount = (await views[view].mount(main, { me: state.me, config: state.config })) || null;
  } catch (e) {
    banner(e instanceof ApiError ? `${e.message}` : String(e), true);
  }
  main.focus();
}

async function signIn(token) {
  setToken(token);
  try {
    state.me = await whoami();
  } catch (e) {
    setToken("");
    state.me = null;
    throw e;
  }
  document.querySelectorAll("#nav a").forEach((a) => {
    a.hidden = !a.dataset.roles.split(" ").includes(state.me.role);
  });
  document.getElementById("signout").hidden = false;
  document.body.dataset.role = state.me.role;
  banner("");
  await route();
}

function askToken(message = "") {
  const dlg = document.getElementById("signin");
  document.getElementById("signin-error").textContent = message;
  if (!dlg.open) dlg.showModal();
  document.getElementById("token").focus();
}

async function start() {
  try {
    const res = await fetch("/config.json");
    state.config = await res.json();
  } catch {
    state.config = {};
  }
  const form = document.getElementById("signin-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = document.getElementById("token").value.trim();
    try {
      await signIn(token);
      document.getElementById("signin").close();
      form.reset();
    } catch (e) {
      askToken(e instanceof ApiError && e.status === 401 ? "That token is not valid (unknown, revoked or expired)." : e.message);
    }
  });
  document.getElementById("signout").addEventListener("click", () => {
    setToken("");
    state.me = null;
    if (state.unmount) state.unmount();
    document.getElementById("view").replaceChildren();
    document.getElementById("signout").hidden = true;
    document.querySelectorAll("#nav a").forEach((a) => (a.hidden = true));
    askToken();
  });
  onAuthLost(() => {
    if (state.me) {
      state.me = null;
      askToken("Your session ended: the token was revoked or expired.");
    }
  });
  window.addEventListener("hashchange", route);
  if (getToken()) {
    try {
      await signIn(getToken());
      return;
    } catch (e) {
      askToken(e.message);
      return;
    }
  }
  askToken();
}

start();
