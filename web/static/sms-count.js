// The SMS form's counter (web/templates/admin/sms.html): the text's length and how many
// SMS it takes, as you type. The same sums as sms/text.py `length` and `parts` (the server
// shows them too, without this script): GSM-7 when every character is in the alphabets the
// page gives (the extension's cost two), else UCS-2 (a character beyond the BMP costs two);
// one SMS holds 160 or 70, a part of a longer one 153 or 67.
"use strict";
(function () {
  var area = document.getElementById("sms-text");
  var out = document.getElementById("sms-count");
  if (!area || !out) return;
  var basic = area.dataset.gsmBasic || "";
  var extension = area.dataset.gsmExtension || "";
  function count() {
    var chars = Array.from(area.value);
    var gsm = chars.every(function (c) { return basic.includes(c) || extension.includes(c); });
    var size = 0;
    chars.forEach(function (c) {
      size += gsm ? (extension.includes(c) ? 2 : 1) : (c.codePointAt(0) > 0xffff ? 2 : 1);
    });
    var parts = size === 0 ? 0 : size <= (gsm ? 160 : 70) ? 1 : Math.ceil(size / (gsm ? 153 : 67));
    out.textContent = out.dataset.template
      .replace("%(length)s", String(size))
      .replace("%(encoding)s", gsm ? "GSM-7" : "UCS-2")
      .replace("%(parts)s", String(parts));
  }
  area.addEventListener("input", count);
  count();
})();
