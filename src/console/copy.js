// Copy buttons of the Tessera console: progressive enhancement. Without this script the
// values stay selectable in their read-only fields.
"use strict";
(function () {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async function () {
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
  }
})();
