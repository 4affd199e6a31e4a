// The admin's coordinate picker (places/widgets.py): click the map to set lat and lon; typing
// in the inputs moves the marker. Without Leaflet the inputs stay a plain form.
"use strict";
(function () {
  var HOME = [46.52, 6.63]; // Lausanne: where the demo's trips are

  function number(input) {
    var value = parseFloat(input.value);
    return isFinite(value) ? value : null;
  }

  function setUp(box) {
    var latInput = document.getElementById(box.dataset.latInput);
    var lonInput = document.getElementById(box.dataset.lonInput);
    if (!window.L || !latInput || !lonInput) return;
    box.hidden = false;
    var lat = number(latInput), lon = number(lonInput);
    var known = lat !== null && lon !== null;
    var map = L.map(box).setView(known ? [lat, lon] : HOME, known ? 16 : 10);
    if (box.dataset.tiles) {
      L.tileLayer(box.dataset.tiles, {maxZoom: 19, attribution: box.dataset.attribution}).addTo(map);
    }
    // A vector marker: Leaflet's image marker finds its icon by file name, which the hashed
    // names of production static files break.
    function pin(at) {
      return L.circleMarker(at, {radius: 8, weight: 2, fillOpacity: 0.6}).addTo(map);
    }
    var marker = known ? pin([lat, lon]) : null;

    function place(at) {
      if (marker) marker.setLatLng(at); else marker = pin(at);
    }
    map.on("click", function (event) {
      latInput.value = event.latlng.lat.toFixed(6);
      lonInput.value = event.latlng.lng.toFixed(6);
      [latInput, lonInput].forEach(function (input) {
        input.dispatchEvent(new Event("change", {bubbles: true}));
      });
      place(event.latlng);
    });
    function typed() {
      var a = number(latInput), b = number(lonInput);
      if (a === null || b === null || Math.abs(a) > 90 || Math.abs(b) > 180) return;
      place([a, b]);
      map.panTo([a, b]);
    }
    latInput.addEventListener("input", typed);
    lonInput.addEventListener("input", typed);
  }

  function start() {
    document.querySelectorAll(".atmr-map-picker").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
