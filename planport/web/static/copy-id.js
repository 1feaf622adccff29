/* Copy ID: buttons `button.copy-id[data-id]` next to a `<code>` holding the ID.
   navigator.clipboard exists only in a secure context (HTTPS, or localhost): elsewhere the ID
   is selected and the button says to press Ctrl+C. Loaded by every page that shows such a
   button (also inside fragments htmx swaps in), so it installs its one listener once. */
(function () {
  if (window.planportCopyId) return;
  window.planportCopyId = true;

  function select(button) {
    var code = button.parentElement && button.parentElement.querySelector("code");
    if (code) {
      var range = document.createRange();
      range.selectNodeContents(code);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    say(button, "Press Ctrl+C to copy");
  }

  function say(button, text) {
    var hint = button.parentElement && button.parentElement.querySelector(".copy-hint");
    if (!hint) {
      hint = document.createElement("span");
      hint.className = "copy-hint muted";
      hint.setAttribute("role", "status");
      button.insertAdjacentElement("afterend", hint);
    }
    hint.textContent = " " + text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy-id") : null;
    if (!button) return;
    var id = button.getAttribute("data-id");
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(id).then(
        function () { button.textContent = "Copied"; },
        function () { select(button); }
      );
    } else {
      select(button);
    }
  });
})();
