/* Field reports: the phone upload page (photos, position, drafts kept on the phone),
   the after-photo position on the report page, and the small maps. No dependencies
   but the vendored Leaflet. */
(function () {
  'use strict';

  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) { return values[k] === undefined ? m : values[k]; });
  }
  function $(id) { return document.getElementById(id); }
  var csrf = (document.querySelector('meta[name=csrf-token]') || {}).content || '';

  /* --- EXIF GPS of a JPEG, read on the phone before sending ----------------------- */
  function tiffGps(v, start) {
    var little = v.getUint16(start) === 0x4949;
    var u16 = function (o) { return v.getUint16(start + o, little); };
    var u32 = function (o) { return v.getUint32(start + o, little); };
    var ifd0 = u32(4), gps = 0, i;
    for (i = 0; i < u16(ifd0); i++) {
      if (u16(ifd0 + 2 + i * 12) === 0x8825) gps = u32(ifd0 + 2 + i * 12 + 8);
    }
    if (!gps) return null;
    var tags = {};
    for (i = 0; i < u16(gps); i++) {
      var e = gps + 2 + i * 12, tag = u16(e), type = u16(e + 2), count = u32(e + 4);
      if (type === 2) {
        tags[tag] = String.fromCharCode(v.getUint8(start + (count <= 4 ? e + 8 : u32(e + 8))));
      } else if (type === 5 || type === 10) {
        var p = u32(e + 8), vals = [];
        for (var k = 0; k < Math.min(count, 3); k++) {
          var num = type === 5 ? u32(p + 8 * k) : v.getInt32(start + p + 8 * k, little);
          var den = type === 5 ? u32(p + 8 * k + 4) : v.getInt32(start + p + 8 * k + 4, little);
          vals.push(den ? num / den : NaN);
        }
        tags[tag] = vals;
      }
    }
    function deg(a) { return a && a.length ? Math.abs(a[0]) + (a[1] || 0) / 60 + (a[2] || 0) / 3600 : NaN; }
    var lat = deg(tags[2]), lon = deg(tags[4]);
    if (tags[1] === 'S') lat = -lat;
    if (tags[3] === 'W') lon = -lon;
    if (!isFinite(lat) || !isFinite(lon) || (lat === 0 && lon === 0) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat: lat, lon: lon };
  }

  function exifGps(file) {
    return file.slice(0, 256 * 1024).arrayBuffer().then(function (buf) {
      var v = new DataView(buf), off = 2;
      if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) return null;
      while (off + 10 <= v.byteLength) {
        var marker = v.getUint16(off), len = v.getUint16(off + 2);
        if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) return tiffGps(v, off + 10);
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) break;
        off += 2 + len;
      }
      return null;
    }).catch(function () { return null; });
  }

  /* --- the draft, kept in IndexedDB (photos included), else text in localStorage -- */
  var Drafts = {
    key: 'gisapp-report-draft',
    db: function () {
      return new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
        var req = indexedDB.open('gisapp-reports', 1);
        req.onupgradeneeded = function () { req.result.createObjectStore('drafts'); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    },
    run: function (mode, fn) {
      return Drafts.db().then(function (db) {
        return new Promise(function (resolve, reject) {
          var tx = db.transaction('drafts', mode), req = fn(tx.objectStore('drafts'));
          tx.oncomplete = function () { resolve(req && req.result); };
          tx.onerror = function () { reject(tx.error); };
        });
      });
    },
    get: function () {
      return Drafts.run('readonly', function (s) { return s.get('current'); }).catch(function () {
        try { return JSON.parse(localStorage.getItem(Drafts.key)); } catch (e) { return null; }
      });
    },
    put: function (draft) {
      return Drafts.run('readwrite', function (s) { return s.put(draft, 'current'); }).catch(function () {
        try { localStorage.setItem(Drafts.key, JSON.stringify(Object.assign({}, draft, { photos: [] }))); } catch (e) { /* full */ }
      });
    },
    clear: function () {
      try { localStorage.removeItem(Drafts.key); } catch (e) { /* ignore */ }
      return Drafts.run('readwrite', function (s) { return s.delete('current'); }).catch(function () {});
    }
  };

  /* --- small maps -------------------------------------------------------------- */
  var STYLES = {
    subdistrict: { color: '#b71c1c', weight: 2, fill: false },
    communities: { color: '#757575', weight: 1, fillOpacity: 0.04 },
    back_lanes: { color: '#1565c0', weight: 3 }
  };
  function smallMap(el, center, zoom, outline, fit) {
    var map = L.map(el, { attributionControl: false }).setView(center, zoom);
    if (outline && outline.features.length) {
      var layer = L.geoJSON(outline, { interactive: false, style: function (f) { return STYLES[f.properties.layer] || {}; } }).addTo(map);
      if (fit) map.fitBounds(layer.getBounds(), { padding: [4, 4] });
    }
    return map;
  }

  /* --- the upload page ----------------------------------------------------------- */
  function uploadPage(form) {
    var cfg = JSON.parse($('rp-config').textContent), T = cfg.text;
    function newKey() {  // one per report: the server stores an upload with a key it has seen only once
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      var a = new Uint8Array(16); crypto.getRandomValues(a);
      return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
    }
    var state = { photos: [], geo: null, tap: null, preferExif: false, sending: false, restored: false, key: newKey() };
    var map = smallMap('rp-map', cfg.center, cfg.zoom, cfg.outline, true), marker = null, circle = null, watch = null;
    var saveTimer = null, nextId = 1;

    function status(text, kind) {
      var el = $('rp-status');
      el.textContent = text || '';
      el.className = 'rp-status' + (kind ? ' rp-' + kind : '');
    }
    function exifPhoto() { return state.photos.find(function (p) { return p.exif; }); }
    function chosen() {
      var e = exifPhoto();
      if (state.tap) return { lat: state.tap.lat, lon: state.tap.lon, source: 'map', accuracy: null };
      if (state.preferExif && e) return { lat: e.exif.lat, lon: e.exif.lon, source: 'exif', accuracy: null };
      if (state.geo) return { lat: state.geo.lat, lon: state.geo.lon, source: 'geolocation', accuracy: state.geo.accuracy };
      if (e) return { lat: e.exif.lat, lon: e.exif.lon, source: 'exif', accuracy: null };
      return null;
    }

    function showPosition() {
      var pos = chosen(), el = $('rp-pos');
      $('rp-use-exif').hidden = !exifPhoto() || (pos && pos.source === 'exif');
      if (!pos) {
        el.textContent = state.geoError ? fmt(T.geo_denied, { reason: state.geoError }) : (watch !== null ? T.locating : T.no_position);
        el.dataset.source = '';
        return;
      }
      var parts = [fmt(T.position, { lat: pos.lat.toFixed(6), lon: pos.lon.toFixed(6) }),
        fmt(T.source, { source: T['src_' + pos.source] })];
      if (pos.accuracy) parts.push(fmt(T.accuracy, { acc: Math.round(pos.accuracy) }));
      if (pos.accuracy > 100) parts.push(T.poor);
      el.textContent = parts.join(' · ');
      el.dataset.source = pos.source;
      var ll = [pos.lat, pos.lon];
      if (!marker) marker = L.circleMarker(ll, { radius: 8, color: '#fff', weight: 2, fillColor: '#b71c1c', fillOpacity: 1 }).addTo(map);
      marker.setLatLng(ll);
      if (circle) { map.removeLayer(circle); circle = null; }
      if (pos.accuracy) circle = L.circle(ll, { radius: pos.accuracy, weight: 1, fillOpacity: 0.1 }).addTo(map);
      if (!map.getBounds().contains(ll)) map.setView(ll, Math.max(map.getZoom(), 16));
      fillLinks(pos);
    }

    function fillLinks(pos) {
      var select = $('rp-link'), keep = select.value || state.pendingLink || '';
      var cos = Math.cos(pos.lat * Math.PI / 180);
      var near = cfg.links.map(function (l) {
        var dx = (l.lon - pos.lon) * 111320 * cos, dy = (l.lat - pos.lat) * 110574;
        return { l: l, d: Math.sqrt(dx * dx + dy * dy) };
      }).sort(function (a, b) { return a.d - b.d; }).slice(0, 20);
      select.length = 1;
      near.forEach(function (n) {
        var value = n.l.layer + ':' + n.l.code;
        select.add(new Option(n.l.name + '（' + n.l.layer_title + '，' + Math.round(n.d) + ' m）', value, false, value === keep));
      });
    }

    function locate() {
      state.tap = null; state.preferExif = false; state.geoError = null;
      if (!navigator.geolocation) { state.geoError = 'unsupported'; showPosition(); return; }
      if (watch !== null) navigator.geolocation.clearWatch(watch);
      watch = navigator.geolocation.watchPosition(function (p) {
        state.geo = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy };
        showPosition();
      }, function (err) {
        state.geoError = err.message || String(err.code);
        showPosition();
      }, { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 });
      showPosition();
    }

    function renderPhotos() {
      var list = $('rp-thumbs');
      list.textContent = '';
      state.photos.forEach(function (p) {
        var li = document.createElement('li'), img = document.createElement('img'), rm = document.createElement('button');
        if (!p.url) p.url = URL.createObjectURL(p.blob);
        img.src = p.url; img.alt = p.name;
        rm.type = 'button'; rm.textContent = T.remove; rm.className = 'rp-link';
        rm.addEventListener('click', function () {
          state.photos = state.photos.filter(function (q) { return q !== p; });
          URL.revokeObjectURL(p.url); renderPhotos(); showPosition(); save();
        });
        li.appendChild(img);
        if (p.exif) { var b = document.createElement('span'); b.className = 'rp-badge'; b.textContent = T.photo_gps; li.appendChild(b); }
        li.appendChild(rm);
        list.appendChild(li);
      });
    }

    function addFiles(files) {
      var list = Array.prototype.slice.call(files || []);
      list.forEach(function (file) {
        if (state.photos.length >= cfg.max_photos) { status(fmt(T.too_many, { n: cfg.max_photos }), 'error'); return; }
        if (file.size > cfg.max_photo_mb * 1e6) { status(fmt(T.too_big, { name: file.name, mb: cfg.max_photo_mb }), 'error'); return; }
        var photo = { id: nextId++, blob: file, name: file.name || ('photo' + nextId + '.jpg'), exif: null };
        state.photos.push(photo);
        exifGps(file).then(function (gps) { photo.exif = gps; renderPhotos(); showPosition(); save(); });
      });
      renderPhotos(); save();
    }

    function draft() {
      return { category: $('rp-category').value, description: $('rp-description').value, link: $('rp-link').value,
        tap: state.tap, preferExif: state.preferExif, saved: new Date().toISOString(), key: state.key,
        photos: state.photos.map(function (p) { return { blob: p.blob, name: p.name, exif: p.exif }; }) };
    }
    function save() {
      clearTimeout(saveTimer);
      saveTimer = setTimeout(function () { Drafts.put(draft()); }, 250);
    }
    function restore(d) {
      if (!d || (!d.description && !d.category && !(d.photos && d.photos.length))) return;
      $('rp-category').value = d.category || '';
      $('rp-description').value = d.description || '';
      state.tap = d.tap || null; state.preferExif = !!d.preferExif;
      if (d.key) state.key = d.key;  // a retry after a lost answer must not store the report twice
      state.photos = (d.photos || []).map(function (p) { return { id: nextId++, blob: p.blob, name: p.name, exif: p.exif }; });
      var note = $('rp-draft');
      note.querySelector('span').textContent = fmt(T.draft, { when: new Date(d.saved).toLocaleString() });
      $('rp-discard').textContent = T.discard;
      note.hidden = false;
      state.pendingLink = d.link || '';  // applied once the options near the position are known
      renderPhotos(); showPosition();
    }

    function problem() {
      if (!state.photos.length) return T.need_photo;
      if (!$('rp-category').value) return T.need_category;
      if (!chosen()) return T.need_position;
      return null;
    }

    function body() {
      var fd = new FormData(), pos = chosen(), link = $('rp-link').value.split(':');
      fd.append('category', $('rp-category').value);
      fd.append('description', $('rp-description').value);
      fd.append('lat', pos.lat.toFixed(7)); fd.append('long', pos.lon.toFixed(7));
      fd.append('position_source', pos.source);
      if (pos.accuracy) fd.append('accuracy', String(Math.round(pos.accuracy * 10) / 10));
      if (link.length === 2) { fd.append('feature_layer', link[0]); fd.append('feature_code', link[1]); }
      fd.append('client_key', state.key);
      state.photos.forEach(function (p) { fd.append('media', p.blob, p.name); });
      return fd;
    }

    function sending(on) {
      state.sending = on;
      $('rp-submit').disabled = on; $('rp-retry').disabled = on;
    }

    function failed(reason) {
      sending(false);
      status(fmt(T.failed, { reason: reason }), 'error');
      $('rp-retry').hidden = false;
    }

    function done(data) {
      var req = data.service_request;
      Drafts.clear();
      form.hidden = true;
      $('rp-done').hidden = false;
      var text = fmt(T.sent, { code: req.service_request_id });
      if (req.address) text += ' · ' + fmt(T.assigned, { community: req.address });
      if (req.duplicate_of) text += ' · ' + fmt(T.duplicate, { code: req.duplicate_of });
      $('rp-done-text').textContent = text;
      $('rp-done').dataset.code = req.service_request_id;
      $('rp-done-link').href = req.url; $('rp-done-link').textContent = T.view;
      $('rp-again').textContent = T.again;
    }

    function send() {
      var why = problem();
      if (why) { status(why, 'error'); return; }
      if (state.sending) return;
      sending(true);
      status(T.sending);
      Drafts.put(draft());
      fetch(form.dataset.api, { method: 'POST', body: body(), credentials: 'same-origin',
        headers: { 'X-CSRFToken': csrf, 'Accept': 'application/json' } })
        .then(function (resp) {
          return resp.json().catch(function () { return null; }).then(function (data) {
            if (resp.status === 201 && data) { done(data); return; }
            if (resp.status === 401) { sending(false); status(T.login, 'error'); $('rp-retry').hidden = false; return; }
            if (resp.status >= 500 || !data || !data.error) { failed('HTTP ' + resp.status); return; }
            sending(false);
            status(fmt(T.refused, { message: data.error.message }), 'error');
          });
        }, function (err) { failed(navigator.onLine === false ? T.offline : (err && err.message) || T.offline); });
    }

    $('rp-camera').addEventListener('change', function (e) { addFiles(e.target.files); e.target.value = ''; });
    $('rp-gallery').addEventListener('change', function (e) { addFiles(e.target.files); e.target.value = ''; });
    $('rp-locate').addEventListener('click', locate);
    $('rp-use-exif').addEventListener('click', function () { state.tap = null; state.preferExif = true; showPosition(); save(); });
    ['rp-category', 'rp-description', 'rp-link'].forEach(function (id) { $(id).addEventListener('input', save); $(id).addEventListener('change', save); });
    map.on('click', function (e) { state.tap = { lat: e.latlng.lat, lon: e.latlng.lng }; showPosition(); save(); });
    form.addEventListener('submit', function (e) { e.preventDefault(); send(); });
    $('rp-retry').addEventListener('click', send);
    window.addEventListener('online', function () { if (!$('rp-retry').hidden && !state.sending) send(); });
    $('rp-discard').addEventListener('click', function () { Drafts.clear().then(function () { location.reload(); }); });
    $('rp-again').addEventListener('click', function () { location.reload(); });

    Drafts.get().then(restore).then(function () { locate(); document.body.dataset.ready = '1'; });
  }

  /* --- the report page: where an after photo is taken, and a small map ------------ */
  function reportPage() {
    var lat = $('rp-after-lat'), lon = $('rp-after-long');
    if (lat && navigator.geolocation) {
      navigator.geolocation.getCurrentPosition(function (p) {
        lat.value = p.coords.latitude.toFixed(7); lon.value = p.coords.longitude.toFixed(7);
      }, function () {}, { enableHighAccuracy: true, timeout: 30000, maximumAge: 15000 });
    }
    var el = $('rp-mini-map');
    if (el && window.L) {
      var data = JSON.parse($('rp-map-data').textContent);
      var map = smallMap(el, [data.lat, data.lon], 16, data.outline, false);
      L.circleMarker([data.lat, data.lon], { radius: 8, color: '#fff', weight: 2, fillColor: '#b71c1c', fillOpacity: 1 }).addTo(map);
    }
    var preview = $('rp-preview-map');
    if (preview && window.L) {
      var colors = { ok: '#2e7d32', outside: '#f57c00', refused: '#c62828' };
      var pv = JSON.parse($('rp-preview').textContent);
      var pmap = smallMap(preview, [29.18, 104.98], 13, pv.outline, true);
      var layer = L.geoJSON(pv.features, {
        style: function (f) { return { color: colors[f.properties.fate], weight: 2 }; },
        pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 4, color: colors[f.properties.fate], fillOpacity: 0.8 }); }
      }).addTo(pmap);
      if (layer.getLayers().length) pmap.fitBounds(layer.getBounds(), { padding: [8, 8] });
    }
    document.body.dataset.ready = '1';
  }

  var form = $('rp-form');
  if (form) uploadPage(form); else reportPage();
}());
