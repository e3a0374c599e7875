// The request form's record pickers: a search box that asks the picker API on the server
// (first 20 matches) and fills the select next to it; the picked record's label rides
// along in a hidden input so a refused form shows it again. The submit button disables
// itself once clicked (the server's one-time token makes a second POST harmless anyway).
(function () {
  "use strict";

  function fill(select, results) {
    var current = select.value;
    var currentText = select.selectedOptions.length ? select.selectedOptions[0].textContent : "";
    while (select.options.length) select.remove(0);
    select.add(new Option("—", ""));
    var found = false;
    results.forEach(function (r) {
      var text = r.label + (r.detail ? " · " + r.detail : "");
      var option = new Option(text, String(r.id));
      if (String(r.id) === current) { option.selected = true; found = true; }
      select.add(option);
    });
    if (current && !found) {
      var kept = new Option(currentText, current, true, true);
      select.add(kept, 1);
    }
    if (!results.length) {
      var none = new Option("Nothing offered matches", "");
      none.disabled = true;
      select.add(none);
    }
  }

  function search(select, text) {
    var url = select.dataset.picker + "?search=" + encodeURIComponent(text || "");
    var token = (select._token || 0) + 1;
    select._token = token;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : { results: [] }; })
      .then(function (body) {
        if (select._token !== token) return; // a newer search answered first
        fill(select, body.results || []);
        select.dataset.loaded = "true";
      });
  }

  function setup(picker) {
    var select = picker.querySelector("select[data-picker]");
    var box = picker.querySelector("[data-picker-search]");
    var label = picker.querySelector("[data-picker-label]");
    if (!select) return;
    var timer = null;
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { search(select, box.value); }, 250);
    });
    box.addEventListener("search", function () { search(select, box.value); });
    select.addEventListener("change", function () {
      label.value = select.value && select.selectedOptions.length ? select.selectedOptions[0].textContent : "";
    });
    search(select, "");
  }

  document.querySelectorAll(".picker").forEach(setup);
  var form = document.querySelector("[data-testid=request-form]");
  if (form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.hasAttribute("data-submit-once")) {
        if (form.dataset.sent) { event.preventDefault(); return; }
        form.dataset.sent = "true";
      }
    });
  }
})();
