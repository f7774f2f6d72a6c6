/* gisapp planner map: fills Folium's overlay groups from /api/map, keeps the view in the URL,
   search, popups with history, and the dashboard. No framework, no CDN. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("gisapp-config").textContent);
  const text = JSON.parse(document.getElementById("gisapp-text").textContent);
  const map = window[cfg.map];
  // the chart library (1 MB) loads after the map has its data
  const echartsUrl = document.currentScript.dataset.echarts;
  let echartsReady = null;
  function loadEcharts() {
    echartsReady = echartsReady || new Promise(function (resolve) {
      const s = document.createElement("script");
      s.src = echartsUrl;
      s.onload = resolve;
      s.onerror = resolve;  // the dashboard's tables still work without the chart
      document.head.appendChild(s);
    });
    return echartsReady;
  }
  const state = { counts: {}, pending: 0, errors: [], gcj02: false, basemap: "none", ready: false };
  window.gisapp = state;
  const byGroup = {};
  cfg.layers.forEach(function (def) { byGroup[def.group] = def; });

  function params(extra) {
    const p = new URLSearchParams(cfg.filters);
    p.delete("layers");
    p.set("lang", cfg.lang);
    if (state.gcj02) p.set("gcj02", "1");
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p.toString();
  }

  function bboxParam() {
    const b = map.getBounds().pad(0.1);
    const clamp = function (v, lo, hi) { return Math.min(hi, Math.max(lo, v)); };
    // a GCJ-02 basemap shows overlays ~300 m off: pad so the WGS84 query still covers the view
    const d = state.gcj02 ? 0.01 : 0;
    return [clamp(b.getWest() - d, -180, 180), clamp(b.getSouth() - d, -90, 90),
            clamp(b.getEast() + d, -180, 180), clamp(b.getNorth() + d, -90, 90)].map(function (v) { return v.toFixed(6); }).join(",");
  }

  function clusterMarker(f, latlng, labelled) {
    const n = f.properties.n;
    const r = Math.min(24, 6 + Math.log2(n) * 1.8);
    return L.circleMarker(latlng, { radius: r, color: "#ad1457", weight: 1, fillColor: "#ec407a", fillOpacity: 0.55 })
      .bindTooltip(String(n), { permanent: labelled && n > 9, direction: "center", className: "gis-cluster-label" })
      .on("click", function () { map.setView(latlng, Math.min(map.getZoom() + 2, 19)); });
  }

  function geoLayer(def, data) {
    const labelled = data.features.length <= 400;  // permanent labels are DOM nodes: keep them few
    return L.geoJSON(data, {
      style: function (f) {
        return { color: f.properties.c, fillColor: f.properties.c, weight: def.weight,
                 fillOpacity: def.fill_opacity, dashArray: def.dash || null };
      },
      pointToLayer: function (f, latlng) {
        if (f.properties.n) return clusterMarker(f, latlng, labelled);
        return L.circleMarker(latlng, { radius: def.radius, weight: 1, fillOpacity: Math.max(def.fill_opacity, 0.6) });
      },
      onEachFeature: function (f, l) {
        if (f.properties.n) return;
        l.feature = f;
        if (f.properties.t) l.bindTooltip(f.properties.t, { sticky: true });
        l.bindPopup(text.loading, { maxWidth: 460, minWidth: 240 });
        l.on("popupopen", function () { loadPopup(def, f.id, l); });
      },
    });
  }

  function loadPopup(def, fid, layer) {
    fetch(cfg.api + "/map/" + def.id + "/" + fid + "/popup?" + params())
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (body) { layer.setPopupContent(body.html); bindProgressForm(def, fid, layer); bindEditTools(def, fid, layer); })
      .catch(function () { layer.setPopupContent(text.load_failed); });
  }

  /* a handler records progress (with photos: multipart) from the popup; the map, the popup and the dashboard follow */
  function bindProgressForm(def, fid, layer) {
    const el = layer.getPopup() && layer.getPopup().getElement();
    const form = el && el.querySelector(".gis-progress-form form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const msg = form.querySelector(".gis-form-msg");
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;  // photos take a moment to upload: no second record meanwhile
      msg.textContent = text.saving;
      msg.className = "gis-form-msg";
      fetch(cfg.api + "/progress/" + def.id + "/" + fid + "?lang=" + cfg.lang, {
        method: "POST", body: new FormData(form), headers: { "X-CSRFToken": cfg.csrf },
      }).then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
        .then(function (res) {
          button.disabled = false;
          if (!res[0]) { msg.textContent = res[1].error ? res[1].error.message : text.load_failed; msg.className = "gis-form-msg gis-error"; return; }
          state.saved = (state.saved || 0) + 1;
          loadPopup(def, fid, layer);
          loadDashboard();
          load(def).then(function () { reopen(def, fid); });
        })
        .catch(function () { button.disabled = false; msg.textContent = text.load_failed; msg.className = "gis-form-msg gis-error"; });
    });
  }

  /* admins: draw new features, edit the shape or attributes of existing ones */
  function postJson(url, body) {
    return fetch(url, { method: "POST", body: JSON.stringify(body),
                        headers: { "Content-Type": "application/json", "X-CSRFToken": cfg.csrf } })
      .then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); });
  }

  function formValues(form) {
    const out = {};
    form.querySelectorAll("input").forEach(function (i) { out[i.name] = i.type === "checkbox" ? (i.checked ? "1" : "") : i.value; });
    return out;
  }

  function showError(form, body) {
    const msg = form.querySelector(".gis-form-msg");
    msg.textContent = body && body.error ? body.error.message : text.load_failed;
    msg.className = "gis-form-msg gis-error";
  }

  function attributeForm(layerId, fid, host, onSaved, geometry) {
    const q = fid ? "?fid=" + fid + "&lang=" + cfg.lang : "?lang=" + cfg.lang;
    return fetch(cfg.api + "/features/" + layerId + "/form" + q).then(function (r) { return r.json(); }).then(function (b) {
      host.setPopupContent(b.html);
      const form = host.getPopup().getElement().querySelector(".gis-feature-form");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        const url = cfg.api + "/features/" + layerId + (fid ? "/" + fid : "");
        postJson(url, { geometry: geometry || null, properties: formValues(form) }).then(function (res) {
          if (!res[0]) { showError(form, res[1]); return; }
          state.saved = (state.saved || 0) + 1;
          onSaved(res[1]);
        });
      });
    });
  }

  function bindEditTools(def, fid, layer) {
    const el = layer.getPopup() && layer.getPopup().getElement();
    const shapeBtn = el && el.querySelector(".gis-edit-shape");
    if (!shapeBtn) return;
    const reload = function () { load(def).then(function () { reopen(def, fid); }); };
    shapeBtn.addEventListener("click", function () {
      if (!layer.editing) return;
      if (layer.editing.enabled()) return;
      state.editing = def.id + ":" + fid;
      layer.editing.enable();
      layer.closePopup();
      const bar = document.querySelector(".gis-edit-bar");
      if (bar) bar.hidden = false;
    });
    el.querySelector(".gis-edit-attrs").addEventListener("click", function () {
      attributeForm(def.id, fid, layer, reload);
    });
  }

  function saveShapes() {
    if (!state.editing) return Promise.resolve();
    const parts = state.editing.split(":");
    const def = cfg.layers.find(function (d) { return d.id === parts[0]; });
    const fid = parseInt(parts[1], 10);
    let target = null;
    window[def.group].eachLayer(function (gl) { gl.eachLayer && gl.eachLayer(function (l) { if (l.feature && l.feature.id === fid) target = l; }); });
    state.editing = null;
    if (!target) return Promise.resolve();
    target.editing.disable();
    return postJson(cfg.api + "/features/" + def.id + "/" + fid, { geometry: target.toGeoJSON().geometry, properties: {} })
      .then(function (res) {
        if (!res[0]) { state.errors.push("edit refused: " + (res[1].error && res[1].error.message)); state.refused = res[1]; }
        else { state.saved = (state.saved || 0) + 1; }
        return load(def);
      });
  }
  state.saveShapes = saveShapes;

  if (cfg.editor) {
    const bar = document.createElement("div");
    bar.className = "gis-edit-bar";
    bar.hidden = true;
    const save = document.createElement("button");
    save.type = "button";
    save.id = "gis-save-shape";
    save.textContent = cfg.lang === "zh" ? "保存形状" : "Save shape";
    save.addEventListener("click", function () { saveShapes().then(function () { bar.hidden = true; }); });
    bar.appendChild(save);
    document.body.appendChild(bar);
    map.on("draw:created", function (e) {
      const shape = e.layer;
      const geometry = shape.toGeoJSON().geometry;
      const fits = cfg.edit_layers.filter(function (l) { return l.geometry.replace("Multi", "") === geometry.type; });
      const box = document.createElement("form");
      box.className = "gis-draw-choice";
      const select = document.createElement("select");
      select.name = "layer";
      fits.forEach(function (l) { const o = document.createElement("option"); o.value = l.id; o.textContent = l.title; select.appendChild(o); });
      const go = document.createElement("button");
      go.type = "submit";
      go.textContent = cfg.lang === "zh" ? "下一步" : "Next";
      box.appendChild(select);
      box.appendChild(go);
      shape.bindPopup(box, { minWidth: 260 }).openPopup();
      box.addEventListener("submit", function (ev) {
        ev.preventDefault();
        const def = cfg.layers.find(function (d) { return d.id === select.value; });
        attributeForm(select.value, null, shape, function () {
          shape.remove();
          const group = window[def.group];
          if (!map.hasLayer(group)) group.addTo(map);
          load(def);
        }, geometry);
      });
    });
  }

  function reopen(def, fid) {
    window[def.group].eachLayer(function (gl) {
      gl.eachLayer && gl.eachLayer(function (l) { if (l.feature && l.feature.id === fid) l.openPopup(); });
    });
  }

  function load(def) {
    const group = window[def.group];
    if (!map.hasLayer(group)) return Promise.resolve();
    const extra = def.bbox ? { bbox: bboxParam() } : {};
    const url = cfg.api + "/map/" + def.id + ".geojson?" + params(extra);
    const seq = (def.seq = (def.seq || 0) + 1);
    state.pending += 1;
    return fetch(url)
      .then(function (r) { if (!r.ok) throw new Error(r.status + " " + url); return r.json(); })
      .then(function (data) {
        if (seq !== def.seq) return;  // a newer request for this layer is on its way
        group.clearLayers();
        group.addLayer(geoLayer(def, data));
        state.counts[def.id] = data.features.length;
        state.clustered = state.clustered || {};
        state.clustered[def.id] = !!data.clustered;
      })
      .catch(function (e) { state.errors.push(String(e)); })
      .finally(function () { state.pending -= 1; if (state.pending === 0) document.body.dataset.loaded = "1"; });
  }

  function loadAll() { return Promise.all(cfg.layers.map(load)); }

  function visibleLayers() {
    return cfg.layers.filter(function (d) { return map.hasLayer(window[d.group]); }).map(function (d) { return d.id; });
  }

  function syncUrl() {
    const p = new URLSearchParams(cfg.filters);
    p.set("layers", visibleLayers().join(","));
    if (state.basemap !== "none") p.set("basemap", state.basemap); else p.delete("basemap");
    const c = map.getCenter();
    const url = "?" + p.toString() + "#" + map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5);
    history.replaceState(null, "", url);
    const hidden = document.querySelector("#gis-filters input[name=layers]");
    if (hidden) hidden.value = p.get("layers");
    const bm = document.querySelector("#gis-filters input[name=basemap]");
    if (bm) bm.value = state.basemap;
  }

  function fromHash() {
    const m = /^#(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
    if (m) { map.setView([parseFloat(m[2]), parseFloat(m[3])], parseInt(m[1], 10)); return true; }
    return false;
  }

  map.on("overlayadd", function (e) {
    const def = cfg.layers.find(function (d) { return window[d.group] === e.layer; });
    if (def) load(def);
    syncUrl();
  });
  map.on("overlayremove", syncUrl);
  map.on("moveend", function () {
    cfg.layers.filter(function (d) { return d.bbox; }).forEach(load);
    syncUrl();
  });
  map.on("baselayerchange", function (e) {
    Object.keys(cfg.basemaps).forEach(function (k) { if (window[cfg.basemaps[k]] === e.layer) state.basemap = k; });
    const gcj = state.basemap === "amap";
    if (gcj !== state.gcj02) { state.gcj02 = gcj; loadAll(); }
    syncUrl();
  });

  /* search */
  const box = document.getElementById("gis-search");
  const list = document.getElementById("gis-search-results");
  let timer = null;
  function showResults(results) {
    list.innerHTML = "";
    results.forEach(function (r) {
      const li = document.createElement("li");
      li.textContent = r.name + " · " + r.layer_title;
      li.tabIndex = 0;
      li.addEventListener("click", function () { goTo(r); });
      li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") goTo(r); });
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
  }
  function goTo(r) {
    list.hidden = true;
    box.value = r.name;
    const def = cfg.layers.find(function (d) { return d.id === r.layer; });
    const group = window[def.group];
    const open = function () {
      group.eachLayer(function (gl) {
        gl.eachLayer && gl.eachLayer(function (l) { if (l.feature && l.feature.id === r.fid) l.openPopup(); });
      });
    };
    map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], { maxZoom: 17 });
    if (!map.hasLayer(group)) { group.addTo(map); load(def).then(open); } else { open(); }
    syncUrl();
  }
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (!box.value.trim()) { showResults([]); return; }
      fetch(cfg.api + "/search?" + new URLSearchParams({ q: box.value, lang: cfg.lang }))
        .then(function (r) { return r.json(); }).then(function (b) { showResults(b.results); });
    }, 200);
  });
  box.addEventListener("keydown", function (ev) { if (ev.key === "Enter" && list.firstChild) list.firstChild.click(); });

  document.getElementById("gis-copy-link").addEventListener("click", function () {
    syncUrl();
    const done = function () { document.getElementById("gis-copy-link").textContent = text.link_copied; };
    if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(done, done); else done();
  });

  /* dashboard */
  const dashLayer = document.getElementById("gis-dash-layer");
  let chart = null;
  function cell(tag, value, cls) {
    const el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "—" : (typeof value === "number" ? value.toLocaleString() : value);
    if (cls) el.className = cls;
    return el;
  }
  function table(head, rows) {
    const t = document.createElement("table");
    const tr = document.createElement("tr");
    head.forEach(function (h) { tr.appendChild(cell("th", h)); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      const row = document.createElement("tr");
      r.forEach(function (v) { row.appendChild(cell("td", v)); });
      t.appendChild(row);
    });
    return t;
  }
  function renderDashboard(d) {
    const statuses = cfg.status_order;  // JSON objects lose their order: keep the list
    const counts = document.getElementById("gis-dash-status");
    counts.innerHTML = "";
    if (d.status_counts) {
      statuses.forEach(function (s) { counts.appendChild(cell("span", cfg.statuses[s] + " " + d.status_counts[s], "st st-" + s)); });
    }
    const qs = d.layer.quantities;
    const tbl = document.getElementById("gis-dash-table");
    tbl.innerHTML = "";
    tbl.appendChild(table([text.community, text.features].concat(statuses.map(function (s) { return cfg.statuses[s]; }),
      qs.map(function (q) { return q.title + "(" + q.unit + ")"; })),
      d.by_community.map(function (r) {
        return [r.name, r.features].concat(statuses.map(function (s) { return r[s]; }), qs.map(function (q) { return r[q.key]; }));
      })));
    const figs = document.getElementById("gis-dash-figures");
    figs.innerHTML = "";
    const ft = table(["", text.value, text.published, "%"], []);
    d.figures.forEach(function (f) {
      const row = document.createElement("tr");
      row.appendChild(cell("td", f.label[cfg.lang]));
      row.appendChild(cell("td", f.value));
      row.appendChild(cell("td", f.published));
      const pct = f.published ? Math.round(100 * f.value / f.published) : null;
      const bar = cell("td", pct === null ? "—" : pct + "%", "gis-bar");
      if (pct !== null) bar.style.setProperty("--pct", Math.min(pct, 100) + "%");
      row.appendChild(bar);
      row.dataset.key = f.key;
      ft.appendChild(row);
    });
    figs.appendChild(ft);
    const el = document.getElementById("gis-chart");
    if (window.echarts && el) {
      chart = chart || echarts.init(el, null, { renderer: "svg" });
      const months = d.timeline.map(function (r) { return r.month; });
      const series = statuses.map(function (s) {
        return { name: cfg.statuses[s], type: "bar", stack: "s", data: d.timeline.map(function (r) { return r[s]; }) };
      });
      if (qs.length) {
        series.push({ name: qs[0].title, type: "line", yAxisIndex: 1, data: d.timeline.map(function (r) { return r[qs[0].key]; }) });
      }
      chart.setOption({
        animation: false, tooltip: { trigger: "axis" }, legend: { top: 0, textStyle: { fontSize: 10 } },
        grid: { left: 40, right: 50, top: 40, bottom: 24 },
        color: ["#9e9e9e", "#f57c00", "#2e7d32", "#1565c0", "#6a1b9a"],
        xAxis: { type: "category", data: months },
        yAxis: [{ type: "value" }, { type: "value", splitLine: { show: false } }],
        series: series,
      }, true);
    }
    state.dashboard = d;
  }
  function loadDashboard() {
    const q = params({ layer: dashLayer.value });
    document.getElementById("gis-json-link").href = cfg.api + "/dashboard?" + q;
    return fetch(cfg.api + "/dashboard?" + q).then(function (r) { return r.json(); })
      .then(function (d) { return loadEcharts().then(function () { renderDashboard(d); }); })
      .catch(function (e) { state.errors.push(String(e)); });
  }
  dashLayer.addEventListener("change", loadDashboard);

  /* print the current view (a server snapshot) and download the chosen layer with the filters */
  function updateActions() {
    const b = map.getBounds();
    const box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
    const extra = new URLSearchParams({ lang: cfg.lang });
    if (cfg.filters.as_of) extra.set("as_of", cfg.filters.as_of);
    const print = document.getElementById("gis-print");
    if (print) print.href = "/snapshot/bbox/" + box + "?" + extra.toString();
    document.querySelectorAll(".gis-download").forEach(function (a) {
      const q = new URLSearchParams();
      ["community", "status", "as_of"].forEach(function (k) { if (cfg.filters[k]) q.set(k, cfg.filters[k]); });
      a.href = cfg.api + "/export/" + dashLayer.value + "." + a.dataset.format + (q.toString() ? "?" + q : "");
    });
  }
  map.on("moveend", updateActions);
  dashLayer.addEventListener("change", updateActions);
  updateActions();

  /* resolves once no layer request is in flight (a layer's older request may resolve before its newest) */
  function whenIdle() {
    return new Promise(function (resolve) {
      (function check() { if (state.pending === 0) resolve(); else setTimeout(check, 50); })();
    });
  }

  function findFeature(def, fid) {
    let found = null;
    window[def.group].eachLayer(function (gl) {
      gl.eachLayer && gl.eachLayer(function (l) { if (l.feature && l.feature.id === fid) found = l; });
    });
    return found;
  }

  /* ?focus=layer:fid (links from the data-quality list) opens that feature, once its layer is loaded
     and again after the move (a layer loaded per view is replaced by the move's reload) */
  function focusFeature() {
    const focus = new URLSearchParams(location.search).get("focus");
    const m = /^([a-z0-9_]+):(\d+)$/.exec(focus || "");
    const def = m && cfg.layers.find(function (d) { return d.id === m[1]; });
    if (!def) return Promise.resolve();
    const fid = parseInt(m[2], 10);
    return whenIdle().then(function () {
      const l = findFeature(def, fid);
      if (!l) return;
      if (l.getBounds) map.fitBounds(l.getBounds(), { maxZoom: 17, animate: false });
      else map.setView(l.getLatLng(), 17, { animate: false });
      return new Promise(function (r) { setTimeout(r, 0); }).then(whenIdle).then(function () {
        const now = findFeature(def, fid);
        if (now) now.openPopup();
      });
    });
  }

  Object.keys(cfg.basemaps).forEach(function (k) { if (map.hasLayer(window[cfg.basemaps[k]])) state.basemap = k; });
  state.gcj02 = state.basemap === "amap";
  fromHash();
  const drawn = loadAll().then(function () { document.body.dataset.drawn = "1"; return focusFeature(); });
  Promise.all([drawn, loadDashboard()]).then(function () { state.ready = true; document.body.dataset.ready = "1"; syncUrl(); });
})();
