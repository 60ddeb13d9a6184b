"use strict";
(function () {
  var filter = document.getElementById("filter");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody tr:not(.up)"));
  var shown = document.getElementById("shown");
  if (filter) {
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase(), n = 0;
      rows.forEach(function (r) {
        var hit = r.cells[0].textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !hit;
        if (hit) n++;
      });
      shown.textContent = q ? n + " of " + rows.length + " shown \u00b7 " : "";
    });
  }
  var msg = document.getElementById("msg"), bar = document.getElementById("bar");
  if (!msg) return;
  var words = {
    401: "Not allowed without credentials (401): sign in with the server's user name and password or token, then try again.",
    403: "Refused (403).",
    409: "Already there (409): a file or folder of that name exists.",
    413: "Too large (413): the upload is over the server's --max-body limit.",
    415: "Not a form upload (415)."
  };
  function show(status, text) {
    bar.hidden = true;
    msg.hidden = false;
    msg.textContent = (words[status] || "The server answered " + status + ".") + (text ? " (The server said: " + text.trim() + ")" : "");
  }
  function send(data) {
    var x = new XMLHttpRequest();
    x.open("POST", location.pathname);
    msg.hidden = true;
    bar.hidden = false;
    bar.value = 0;
    x.upload.onprogress = function (e) { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    x.onload = function () {
      if (x.status >= 200 && x.status < 300) location.reload();
      else show(x.status, x.responseText);
    };
    x.onerror = function () {
      msg.hidden = false;
      bar.hidden = true;
      msg.textContent = "The upload was cut off: the server closed the connection (is it over --max-body, or has the server stopped?).";
    };
    x.send(data);
  }
  Array.prototype.forEach.call(document.querySelectorAll("form.w"), function (f) {
    f.addEventListener("submit", function (e) { e.preventDefault(); send(new FormData(f)); });
  });
  if (!document.querySelector("input[type=file]")) return;
  var body = document.body;
  body.addEventListener("dragover", function (e) { e.preventDefault(); body.classList.add("drag"); });
  body.addEventListener("dragleave", function (e) { if (!e.relatedTarget) body.classList.remove("drag"); });
  body.addEventListener("drop", function (e) {
    e.preventDefault();
    body.classList.remove("drag");
    var files = e.dataTransfer ? e.dataTransfer.files : [], data = new FormData();
    for (var i = 0; i < files.length; i++) data.append("file", files[i], files[i].name);
    if (files.length) send(data);
  });
})();
