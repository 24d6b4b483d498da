// Upload page: drop .bpmn files anywhere on the drop zone to check them at once. The plain
// file input and buttons work without this script (and with the keyboard).
(function () {
  "use strict";

  function start() {
    var zone = document.getElementById("dropzone");
    var input = document.getElementById("upload-file");
    var form = document.getElementById("upload-form");
    var check = document.getElementById("check-button");
    var listing = document.getElementById("dropped");
    if (!zone || !input || !form) { return; }

    function show(files) {
      var names = Array.prototype.map.call(files, function (f) { return f.name; });
      listing.textContent = names.length ? "Chosen: " + names.join(", ") : "";
    }

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.dataset.state = "over";
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.dataset.state = "idle"; });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.dataset.state = "idle";
      if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
      input.files = event.dataTransfer.files;
      show(input.files);
      if (form.requestSubmit) { form.requestSubmit(check); } else { check.click(); }
    });
    input.addEventListener("change", function () { show(input.files); });
    zone.dataset.ready = "true";  // the drop handler is in place (tests wait for this)
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
