// Sorting and filtering for the report's tables; no network, no libraries.
(function () {
  "use strict";

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var key = cell.getAttribute("data-sort");
    return key !== null ? key : cell.textContent.trim();
  }

  function compare(a, b, numeric) {
    if (numeric) { return parseFloat(a) - parseFloat(b); }
    return a.localeCompare(b, undefined, { numeric: true });
  }

  function makeSortable(table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, index) {
      header.setAttribute("tabindex", "0");
      header.addEventListener("click", function () { sortBy(table, header, index); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { sortBy(table, header, index); }
      });
    });
  }

  function sortBy(table, header, index) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = header.classList.contains("number");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var order = compare(cellValue(a, index), cellValue(b, index), numeric);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function makeFilterable(table) {
    var text = document.getElementById(table.getAttribute("data-filter-text"));
    var select = document.getElementById(table.getAttribute("data-filter-select"));
    var counter = document.getElementById(table.getAttribute("data-filter-count"));
    var column = parseInt(table.getAttribute("data-filter-column") || "0", 10);
    function apply() {
      var words = (text ? text.value : "").toLowerCase().split(/\s+/).filter(Boolean);
      var wanted = select ? select.value : "";
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var haystack = row.textContent.toLowerCase();
        var visible = words.every(function (w) { return haystack.indexOf(w) !== -1; }) &&
          (!wanted || cellValue(row, column) === wanted);
        row.hidden = !visible;
        if (visible) { shown += 1; }
      });
      if (counter) { counter.textContent = shown + " of " + table.tBodies[0].rows.length + " shown"; }
    }
    if (text) { text.addEventListener("input", apply); }
    if (select) { select.addEventListener("change", apply); }
    apply();
  }

  function openLinkedDetails() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.tagName === "DETAILS") { target.open = true; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll("table[data-filter-text]"), makeFilterable);
    window.addEventListener("hashchange", openLinkedDetails);
    openLinkedDetails();
  });
}());
