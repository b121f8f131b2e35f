// Canvas Note Portal: the one script of our own (the CSP forbids inline ones).
(function () {
  "use strict";

  var TOAST_MS = 6000;

  // Show a toast. Views send them with django-htmx's
  // trigger_client_event(response, "toast", {"message": ..., "level": ...}).
  function showToast(detail) {
    var box = document.getElementById("toasts");
    if (!box || !detail || !detail.message) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (detail.level || "info");
    toast.setAttribute("role", detail.level === "error" ? "alert" : "status");
    toast.textContent = detail.message; // text only: never parsed as HTML
    // An optional link of our own ("Open the note"): same-origin paths only.
    var link = detail.link;
    if (link && typeof link.href === "string" && /^\/(?!\/)/.test(link.href)) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text || "Open";
      toast.appendChild(document.createTextNode(" "));
      toast.appendChild(a);
    }
    box.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, TOAST_MS);
  }

  document.body.addEventListener("toast", function (event) { showToast(event.detail); });

  // Did the server already send a toast with this response (HX-Trigger)?
  function carriesToast(xhr) {
    var header = xhr && xhr.getResponseHeader("HX-Trigger");
    if (!header) return false;
    try {
      var parsed = JSON.parse(header);
      return Boolean(parsed && typeof parsed === "object" && parsed.toast);
    } catch (e) {
      return header.split(",").map(function (s) { return s.trim(); }).indexOf("toast") !== -1;
    }
  }

  var STATUS_MESSAGES = {
    403: "You don't have permission to do that.",
    404: "That item no longer exists. Reload the page to see the current list.",
    429: "Too many requests. Wait a moment and try again."
  };

  // htmx 2 does not swap error responses: make sure a person still hears
  // about a failure. The server adds a toast to every htmx error it
  // answers (portal.middleware.HtmxErrorToastMiddleware); this covers the
  // rest (a proxy's 502, a response without one).
  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (carriesToast(xhr)) return;
    var status = xhr ? xhr.status : 0;
    var message = STATUS_MESSAGES[status] ||
      (status >= 500 ? "Something went wrong on our side. Please try again in a moment."
                     : "That didn't work. Reload the page and try again.");
    showToast({ message: message, level: "error" });
  });
  document.body.addEventListener("htmx:sendError", function () {
    showToast({ message: "The portal could not be reached. Check your connection and try again.", level: "error" });
  });
  document.body.addEventListener("htmx:timeout", function () {
    showToast({ message: "The portal took too long to answer. Check the list before trying again.", level: "warning" });
  });

  // A background poll (hx-trigger="every ...") is not a person's activity:
  // say so, so it does not keep the session from its idle logoff
  // (portal.middleware.SessionTimeoutMiddleware reads HX-Poll).
  document.body.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger");
    if (trigger && /^\s*every\s/.test(trigger)) event.detail.headers["HX-Poll"] = "true";
  });

  // Close my day: "Select all on this page", and the Sign button's count.
  function bulkBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[name="note"][form="bulk-form"]'));
  }
  function bulkRefresh() {
    var boxes = bulkBoxes();
    var chosen = boxes.filter(function (box) { return box.checked; }).length;
    var count = document.querySelector("[data-selected-count]");
    if (count) count.textContent = chosen ? " (" + chosen + ")" : "";
    var submit = document.querySelector("[data-bulk-submit]");
    if (submit) submit.setAttribute("aria-disabled", chosen ? "false" : "true");
    var all = document.querySelector("[data-select-page]");
    if (all) {
      all.checked = boxes.length > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-page]")) {
      bulkBoxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.matches && (target.matches("[data-select-page]") || target.matches('input[name="note"]'))) {
      bulkRefresh();
    }
  });
  document.body.addEventListener("htmx:afterSettle", bulkRefresh);
  bulkRefresh();

  // Automatic logoff on screen: the server ends a session after this many
  // idle seconds; when they pass with the page untouched, reload it so the
  // server's sign-in page replaces whatever patient data was showing.
  var idleMeta = document.querySelector('meta[name="portal-idle-timeout"]');
  var idleSeconds = idleMeta ? parseInt(idleMeta.getAttribute("content"), 10) : 0;
  if (idleSeconds > 0) {
    var idleTimer = null;
    var armIdleTimer = function () {
      if (idleTimer) window.clearTimeout(idleTimer);
      idleTimer = window.setTimeout(function () { window.location.reload(); }, (idleSeconds + 5) * 1000);
    };
    // Only requests count as activity on the server, so only they reset the timer.
    document.body.addEventListener("htmx:afterRequest", armIdleTimer);
    armIdleTimer();
  }
})();
