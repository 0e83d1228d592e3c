// The meeting page's only script: the print button, and the warning shown while an override
// that skips an untried dose or enters an eliminated one is selected (the server checks anyway).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
  var select = document.getElementById("dose-level");
  var warning = document.getElementById("risk-warning");
  var text = document.getElementById("risk-text");
  if (!select || !warning || !text) { return; }
  var override = document.getElementById("action-override");
  function update() {
    var option = select.options[select.selectedIndex];
    var risk = option ? option.getAttribute("data-risk") : "";
    if (risk) {
      text.textContent = "This override " + risk + ": tick the confirmation to record it.";
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }
  }
  select.addEventListener("change", function () {
    if (override) { override.checked = true; }
    update();
  });
  if (override && override.checked) { update(); }
});
