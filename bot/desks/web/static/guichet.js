// Guichet web desk: keyboard shortcuts and confirmations. Loaded as a file (the CSP forbids inline scripts).
"use strict";
(function () {
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // Forms that need a second thought (Ignorer, Renvoyer) carry data-confirm.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  var selected = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.queue a.row-link")); }
  function select(index) {
    var links = rows();
    if (!links.length) { return; }
    selected = Math.max(0, Math.min(index, links.length - 1));
    links.forEach(function (link, i) { link.closest("tr").classList.toggle("selected", i === selected); });
    links[selected].focus();
  }
  // The list is replaced by htmx when new drafts arrive: keep the highlighted line's place.
  document.addEventListener("htmx:afterSwap", function () { if (selected >= 0) { select(selected); } });

  document.addEventListener("keydown", function (event) {
    var editor = document.querySelector("textarea[data-editor]");
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && event.target.form) {
      // Ctrl+Entrée sends the form being written (the confirmation page comes next).
      event.preventDefault();
      event.target.form.requestSubmit(event.target.form.querySelector("button.primary") || undefined);
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var dialog = document.getElementById("aide");
    if (event.key === "j" || event.key === "ArrowDown" && rows().length) { event.preventDefault(); select(selected + 1); }
    else if (event.key === "k" || event.key === "ArrowUp" && rows().length) { event.preventDefault(); select(selected - 1); }
    else if (event.key === "/") { var box = document.getElementById("q") || document.getElementById("recherche-rapide"); if (box) { event.preventDefault(); box.focus(); } }
    else if (event.key === "e" && editor) { event.preventDefault(); editor.focus(); }
    else if (event.key === "f") { window.location.href = "/file"; }
    else if (event.key === "?" && dialog) { dialog.showModal(); }
  });

  // "Répondre moi-même" links to the composer: open it and put the cursor in it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='#']");
    var target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      var field = target.querySelector("textarea");
      if (field) { window.setTimeout(function () { field.focus(); }, 0); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var help = document.getElementById("aide-bouton");
    var dialog = document.getElementById("aide");
    if (help && dialog) { help.addEventListener("click", function () { dialog.showModal(); }); }
  });
})();
