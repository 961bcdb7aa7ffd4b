// Frontdesk console: copy buttons. navigator.clipboard needs a secure
// context (HTTPS or localhost); elsewhere a hidden textarea and
// execCommand("copy") do the job.
(function () {
  "use strict";
  function fallbackCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.copy");
    if (!b) { return; }
    var text = b.dataset.copy;
    if (b.dataset.copyFrom) {
      var src = document.getElementById(b.dataset.copyFrom);
      text = src ? src.textContent : "";
    }
    var label = b.textContent;
    copy(text).then(function () {
      b.textContent = "Copied";
      b.classList.add("done");
    }, function () {
      b.textContent = "Select and copy";
    }).then(function () {
      setTimeout(function () { b.textContent = label; b.classList.remove("done"); }, 1500);
    });
  });
})();
