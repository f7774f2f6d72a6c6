"""Place helpers for the demo: the real 2016 codes, a local metric frame, and geometry tools.

Geometry is built in a local frame in metres (an affine map of lon/lat around the county
seat, accurate to ~0.01 % over a few km) so that straight edges stay straight and containment
survives the conversion to EPSG:4326.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import shapely

from ..coords import gcj02_to_wgs84, transform_geometry

DEMO_DIR = Path(__file__).resolve().parents[2] / "layers" / "demo"
COUNTY_FILE = "fushun_county_510322_gcj02.geojson"
CODES_FILE = "fushun_510322_admin_codes_2016.csv"
DDL_FILE = "admin_codes_columns.ddl"
TOWN_CODE = "510322100000"  # 富世镇 in 2016, now 富世街道
COUNTY_SOURCE = "© Vonng/adcode, AMap data 2016 (CC BY 4.0); converted from GCJ-02 to WGS84"

# Local frame: origin near the county seat (WGS84) and metres per degree at 29.18 N.
LON0, LAT0 = 104.985, 29.178
M_PER_DEG_LON, M_PER_DEG_LAT = 97270.5, 110838.7
# The compact urban area (metres in the local frame) that holds the 21 communities.
FRAME = (-2000.0, -1300.0, 2000.0, 1500.0)

# 2016 "family committee" rows renamed to communities to complete the list to 21.
EXTRA_COMMUNITIES = {
    "510322100015": "晨光社区",
    "510322100023": "化肥厂社区",
    "510322100024": "磷化厂社区",
    "510322100026": "糖厂社区",
}


def to_local(lon, lat):
    return (np.asarray(lon) - LON0) * M_PER_DEG_LON, (np.asarray(lat) - LAT0) * M_PER_DEG_LAT


def to_lonlat(geoms):
    """Local-metre geometries (one or an array) to WGS84 lon/lat."""
    scale = np.array([1 / M_PER_DEG_LON, 1 / M_PER_DEG_LAT])
    return shapely.transform(geoms, lambda xy: xy * scale + np.array([LON0, LAT0]))


def ddl_columns(path: Path) -> list[str]:
    """Column names from the CREATE TABLE statement of the adcode DDL."""
    body = path.read_text(encoding="utf-8").split("CREATE TABLE", 1)[1].split(");", 1)[0]
    return re.findall(r"^\s+([a-z_]+)\s+[A-Z]", body, flags=re.M)


def read_admin_codes(folder: Path = DEMO_DIR) -> list[dict]:
    columns = ddl_columns(folder / DDL_FILE)
    with open(folder / CODES_FILE, encoding="utf-8", newline="") as f:
        return [dict(zip(columns, row)) for row in csv.reader(f)]


def _community_name(name_2016: str) -> str:
    name = name_2016.removeprefix("富世镇")
    return re.sub(r"(居民委员会|居委会)$", "", name)


def community_list(folder: Path = DEMO_DIR) -> list[dict]:
    """The 21 communities: code, name, name_2016 and a WGS84 centre (or None) from the CSV."""
    rows = [r for r in read_admin_codes(folder) if r["parent"] == TOWN_CODE]
    chosen = [r for r in rows if "社区" in r["name"]] + [r for r in rows if r["code"] in EXTRA_COMMUNITIES]
    out = []
    for r in sorted(chosen, key=lambda r: r["code"]):
        centre = None
        if r["longitude"] and r["latitude"]:
            centre = gcj02_to_wgs84(float(r["longitude"]), float(r["latitude"]))
        name = EXTRA_COMMUNITIES.get(r["code"]) or _community_name(r["name"])
        out.append({"code": r["code"], "name": name, "name_2016": r["name"], "centre": centre})
    return out


def county_outline_wgs84(folder: Path = DEMO_DIR):
    gcj = shapely.from_geojson((folder / COUNTY_FILE).read_text(encoding="utf-8"))
    return transform_geometry(gcj, gcj02_to_wgs84)


def subdistrict_outline(rng) -> shapely.Polygon:
    """A made-up convex outline (local metres) around the frame, a jittered ellipse."""
    x0, y0, x1, y1 = FRAME
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 + 250, (y1 - y0) / 2 + 200
    angles = np.sort(rng.uniform(0, 2 * np.pi, 22))
    radius = rng.uniform(0.93, 1.08, angles.size)
    pts = np.column_stack([cx + rx * radius * np.cos(angles), cy + ry * radius * np.sin(angles)])
    return shapely.convex_hull(shapely.multipoints(pts))


def spread_points(rng, region, n: int, fixed=(), min_dist: float = 500.0, margin: float = 0.0):
    """`n` points in `region` at least `min_dist` apart (and from `fixed`), relaxing if crowded."""
    inner = region.buffer(-margin) if margin else region
    pts = [np.asarray(p, dtype=float) for p in fixed]
    tries = 0
    while len(pts) < len(fixed) + n:
        cand = sample_points(rng, inner, 1)[0]
        tries += 1
        if all(np.hypot(*(cand - p)) >= min_dist for p in pts):
            pts.append(cand)
        elif tries % 200 == 0:
            min_dist *= 0.9
    return np.array(pts[len(fixed):]).reshape(-1, 2)


def sample_points(rng, polygon, n: int) -> np.ndarray:
    """`n` uniform random points (local metres) inside a polygon, as an (n, 2) array."""
    x0, y0, x1, y1 = polygon.bounds
    shapely.prepare(polygon)
    found = np.empty((0, 2))
    while len(found) < n:
        cand = np.column_stack([rng.uniform(x0, x1, 2 * n + 8), rng.uniform(y0, y1, 2 * n + 8)])
        found = np.vstack([found, cand[shapely.contains_xy(polygon, cand[:, 0], cand[:, 1])]])
    return found[:n]


def voronoi_cells(seeds: np.ndarray, clip) -> list:
    """Voronoi cells of `seeds` (in input order) clipped to a convex polygon."""
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=clip.envelope.buffer(100),
                                     ordered=True)
    return [shapely.intersection(cell, clip) for cell in cells.geoms]


def rotated_rect(cx: float, cy: float, w: float, h: float, angle_deg: float) -> shapely.Polygon:
    rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    return shapely.affinity.rotate(rect, angle_deg, origin=(cx, cy))


def rect_cells(rect_wh: tuple[float, float], centre, angle: float, n: int, rng, inset: float = 8.0):
    """Split a rotated rectangle into `n` inset sub-rectangles (a rows x cols layout)."""
    w, h = rect_wh
    cols = int(np.ceil(np.sqrt(n * w / h)))
    rows = int(np.ceil(n / cols))
    cw, ch = w / cols, h / rows
    slots = rng.permutation(rows * cols)[:n]
    out = []
    for s in sorted(slots):
        r, c = divmod(int(s), cols)
        x = centre[0] - w / 2 + (c + 0.5) * cw
        y = centre[1] - h / 2 + (r + 0.5) * ch
        cell = shapely.box(x - cw / 2 + inset, y - ch / 2 + inset, x + cw / 2 - inset, y + ch / 2 - inset)
        out.append(shapely.affinity.rotate(cell, angle, origin=tuple(centre)))
    return out


def wander_line(rng, start, length: float, segments: int) -> shapely.LineString:
    """A gently turning polyline of `length` metres from `start`."""
    heading = rng.uniform(0, 2 * np.pi)
    parts = rng.dirichlet(np.full(segments, 4.0)) * length
    pts = [np.asarray(start, dtype=float)]
    for part in parts:
        pts.append(pts[-1] + part * np.array([np.cos(heading), np.sin(heading)]))
        heading += rng.uniform(-0.6, 0.6)
    return shapely.LineString(pts)


def points_beside(line: shapely.LineString, n: int, rng, offset: float = 4.0) -> np.ndarray:
    """`n` points spaced along both sides of a line, `offset` metres off it."""
    d = np.linspace(5.0, line.length - 5.0, n)
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(d + 0.5, line.length)))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(d - 0.5, 0.0)))
    on = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
    tangent = ahead - behind
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    side = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    return on + normal * side * (offset + rng.uniform(-0.5, 0.5, (n, 1)))


# --- names (made up, plausible) ---------------------------------------------------------

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力林德成国荣琴云飞燕鹏海波宇浩凯斌琳雪梅晨亮志新春")

STAFF = ["zhang.wei", "li.na", "wang.fang", "liu.yang", "chen.jing", "yang.lei", "huang.min",
         "zhao.qiang", "zhou.li", "wu.hao"]

LANE_NAMES = ["三道拐", "盐井巷", "书院街", "半边街", "仓房巷", "水巷子", "鼓楼巷", "马号巷", "关帝庙巷",
              "豆芽湾", "东门坡", "南门口巷", "油房巷", "罗家巷", "新民巷", "体育巷", "学街", "星光巷",
              "釜溪巷", "西湖巷", "文庙背街", "后街巷", "菜市巷", "粮站巷"]

PRACTICE_POINTS = ["顺XIN驿站", "安康邻家大院", "“和美黄家”乡情小院", "古城记忆涂鸦墙", "三道拐花街"]
PRACTICE_SUFFIXES = ["邻里客厅", "书香小院", "红色驿站", "睦邻点", "市民学校", "志愿者之家", "长者食堂",
                     "法治广场", "文化院坝", "道德讲堂", "党员活动室", "健身广场", "连心驿站", "百姓舞台",
                     "乡贤工作室", "邻里互助站"]
COUNTY_STATIONS = [("北湖党群服务中心", "北湖社区"), ("后街社区新时代文明实践站", "后街社区")]

SUPPORT_UNITS = [
    "县综合执法局", "县市场监管局", "县交警大队", "富世派出所", "县住房和城乡建设局", "县自然资源和规划局",
    "县生态环境局", "县卫生健康局", "县教育和体育局", "县民政局", "县人力资源和社会保障局", "县财政局",
    "县文化广播电视和旅游局", "县商务局", "县交通运输局", "县水务局", "县农业农村局", "县发展和改革局",
    "县司法局", "县审计局", "县统计局", "县医疗保障局", "县退役军人事务局", "县应急管理局", "县林业局",
    "县信访局", "县机关事务服务中心", "县委宣传部", "县委组织部", "县委政法委", "县总工会", "团县委", "县妇联",
    "县科协", "县残联", "县税务局", "县消防救援大队", "县融媒体中心", "县图书馆", "县档案馆",
    "县住房公积金管理中心", "县供电公司", "县自来水公司", "县燃气公司", "中国电信富顺分公司",
    "中国移动富顺分公司", "中国联通富顺分公司", "县邮政分公司", "县人民医院", "县中医医院", "县妇幼保健院",
    "县疾病预防控制中心", "富世街道社区卫生服务中心", "富顺第一中学校", "富顺第二中学校", "县城关中学",
    "县西湖小学", "县北湖实验学校", "县职业技术学校", "县实验幼儿园", "工商银行富顺支行", "农业银行富顺支行",
    "中国银行富顺支行", "建设银行富顺支行", "邮储银行富顺县支行", "县农村信用合作联社", "县城市管理服务中心",
    "县公共资源交易中心",
]

COMPOUND_NAMES = ["粮站宿舍", "电力公司家属院", "文庙街小区", "供销社宿舍", "水利局宿舍", "建安小区", "百货公司宿舍",
                  "县医院老宿舍", "农机厂宿舍", "食品公司宿舍", "邮电小区", "建设小区", "新华小区",
                  "人民小区", "振兴小区", "紫荆苑", "金桂苑", "春晖小区", "安居小区", "锦绣小区", "和平小区",
                  "育才小区", "交通局宿舍", "税务小区", "二中教师宿舍", "城关小区", "红旗小区", "光明小区",
                  "东风小区", "团结小区", "幸福小区", "兴隆小区", "桂花苑", "玉带小区", "南华小区"]

STREETS = ["正街", "新街", "河街", "西湖路", "北湖路", "釜江大道", "滨江路", "环城路", "迎宾大道", "文庙街", "东大街",
           "西大街", "南门街", "北门街", "晨光路", "印花庄路", "金山路", "龙山路", "宋渡路", "五府山路", "邓关路"]

STRUCTURE_TYPES = ["彩钢棚", "违规雨棚", "铁皮房", "砖混偏房", "阳台外扩", "楼顶加层", "围墙圈占", "简易棚"]


def person_names(rng, n: int) -> list[str]:
    sur = rng.choice(SURNAMES, n)
    given = rng.choice(GIVEN, (n, 2))
    lens = rng.integers(1, 3, n)
    return [s + "".join(g[:k]) for s, g, k in zip(sur, given, lens)]


def fake_phones(rng, n: int) -> list[str]:
    prefix = rng.choice(["138", "139", "135", "136", "150", "151", "158", "177", "180", "189"], n)
    return [f"{p}****{i + 1:04d}" for i, p in enumerate(prefix)]


def to_local_geom(geom):
    """A WGS84 lon/lat geometry to the local metre frame (inverse of to_lonlat)."""
    scale = np.array([M_PER_DEG_LON, M_PER_DEG_LAT])
    return shapely.transform(geom, lambda xy: (xy - np.array([LON0, LAT0])) * scale)
