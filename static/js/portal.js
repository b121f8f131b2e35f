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
    box.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, TOAST_MS);
  }

  document.body.addEventListener("toast", function (event) { showToast(event.detail); });

  // htmx 2 does not swap error responses: make sure a person still hears
  // about a failure that no view turned into a toast.
  document.body.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr && event.detail.xhr.getResponseHeader("HX-Trigger")) return;
    showToast({ message: "Something went wrong. Please try again.", level: "error" });
  });
  document.body.addEventListener("htmx:sendError", function () {
    showToast({ message: "The portal could not be reached. Check your connection and try again.", level: "error" });
  });
})();
