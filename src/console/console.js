// The Tessera console's own script: progressive enhancement only. Every page works without
// it (forms post, confirmations are pages of their own); with it, copy buttons copy and
// confirmations open as dialogs in place.
"use strict";
(function () {
  // Copy buttons: without this script the values stay selectable in their read-only fields.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button.copy[data-copy]");
    if (!button) return;
    const input = document.getElementById(button.dataset.copy);
    if (!input) return;
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch (_) {
      document.execCommand && document.execCommand("copy");
    }
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  });

  // An inline update refused (an expired form, a lost session): reload, so the page shows
  // the state as it is and a fresh form.
  document.addEventListener("htmx:responseError", function () {
    window.location.reload();
  });

  // A link with data-dialog="ID" leads to a confirmation page; with script it opens the
  // <dialog id=ID> holding the same form instead.
  document.addEventListener("click", function (event) {
    const opener = event.target.closest("[data-dialog]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialog);
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        // Cancel first: Enter must not confirm a destructive change by accident.
        const first = dialog.querySelector("[data-close], [autofocus], input:not([type=hidden])");
        if (first) first.focus();
      }
      return;
    }
    const closer = event.target.closest("dialog [data-close]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
    }
  });
})();
