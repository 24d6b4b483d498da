/*
 * flowdesk task page: tells the reader when someone else changes this task while the
 * page is open (events come from inbox.js as "flowdesk:task"), moves focus to the error
 * summary after a refused submission, and shows/hides form-js fields whose simple
 * condition reads another field of the form (the server re-checks every condition).
 */
(function () {
  "use strict";

  var page = document.querySelector(".task-page");
  if (!page) { return; }
  var taskId = Number(page.getAttribute("data-task-id"));

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  document.addEventListener("flowdesk:task", function (event) {
    var message = event.detail || {};
    if (!message.task || message.task.id !== taskId) { return; }
    var region = document.getElementById("live-status");
    if (!region) { return; }
    var who = message.actor ? message.actor : "the engine";
    var text = {
      claimed: who + " claimed this task.",
      unclaimed: who + " handed this task back.",
      completed: who + " completed this task.",
      cancelled: "This task was cancelled.",
      escalated: "This task was escalated.",
      delegated: who + " delegated this task.",
      resolved: who + " resolved this task.",
      assigned: who + " reassigned this task.",
      commented: who + " commented."
    }[message.event];
    if (text) { region.textContent = text + " Reload the page to see the change."; }
  });

  // form-js conditions of the shape  =name != "value"  or  =name = "value"
  var simple = /^=\s*([A-Za-z_][\w.]*)\s*(!=|=)\s*"([^"]*)"\s*$/;
  var form = document.querySelector(".task-form");
  if (!form) { return; }
  var conditional = form.querySelectorAll("[data-hide-if]");
  function valueOf(name) {
    var inputs = form.querySelectorAll("[name='" + name.replace(/'/g, "\\'") + "']");
    for (var i = 0; i < inputs.length; i++) {
      var input = inputs[i];
      if ((input.type === "radio" || input.type === "checkbox")) {
        if (input.checked) { return input.value; }
      } else if (input.type !== "hidden") { return input.value; }
    }
    return "";
  }
  function apply() {
    Array.prototype.forEach.call(conditional, function (node) {
      var match = simple.exec(node.getAttribute("data-hide-if"));
      if (!match) { return; }
      var current = valueOf(match[1]);
      var hide = match[2] === "=" ? current === match[3] : current !== match[3];
      node.hidden = hide;
    });
  }
  form.addEventListener("change", apply);
  apply();
})();
