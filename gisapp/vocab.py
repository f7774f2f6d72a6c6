"""Fixed vocabularies shared by the registry, the store and the UI.

Progress statuses and quantity kinds are fixed here because they are columns
of the progress table; layers choose which quantities they carry.
"""

STATUSES = {
    "planned": {"zh": "计划", "en": "Planned", "color": "#9e9e9e"},
    "in_progress": {"zh": "施工中", "en": "In progress", "color": "#f57c00"},
    "done": {"zh": "已完工", "en": "Done", "color": "#2e7d32"},
    "accepted": {"zh": "已验收", "en": "Accepted", "color": "#1565c0"},
}
STATUS_ORDER = list(STATUSES)
NO_RECORD_COLOR = "#bdbdbd"  # a work with no progress record (yet, or as of the chosen date)
FINISHED = ("done", "accepted")

# Quantity kinds: column name in the progress table -> default title and unit.
# A progress record carries cumulative values as of its date.
QUANTITIES = {
    "households": {"zh": "惠及户数", "en": "Households", "unit_zh": "户", "unit_en": "households"},
    "area_m2": {"zh": "面积", "en": "Area", "unit_zh": "平方米", "unit_en": "m²"},
    "spaces": {"zh": "停车位", "en": "Parking spaces", "unit_zh": "个", "unit_en": "spaces"},
    "structures": {"zh": "拆除处数", "en": "Structures", "unit_zh": "处", "unit_en": "structures"},
    "pairs": {"zh": "垃圾桶", "en": "Bin pairs", "unit_zh": "对", "unit_en": "pairs"},
    "funds_cny": {"zh": "投入资金", "en": "Funds", "unit_zh": "元", "unit_en": "CNY"},
    "items": {"zh": "事项", "en": "Items", "unit_zh": "项", "unit_en": "items"},
    "events": {"zh": "活动场次", "en": "Events", "unit_zh": "场次", "unit_en": "events"},
    "people": {"zh": "人数", "en": "People", "unit_zh": "人次", "unit_en": "person-times"},
    "boards": {"zh": "张贴栏", "en": "Notice boards", "unit_zh": "张", "unit_en": "boards"},
    "ads": {"zh": "公益广告", "en": "Public-service ads", "unit_zh": "块", "unit_en": "ads"},
}

# Kinds of entries in the activity log (工作台账) for work that is counted,
# not mapped feature by feature.
ACTIVITY_KINDS = {
    "flyers_cleaned": {"zh": "清理牛皮癣", "en": "Illegal flyers cleaned", "unit_zh": "处", "unit_en": "places"},
    "sewers_unblocked": {"zh": "疏通下水道", "en": "Sewers unblocked", "unit_zh": "处", "unit_en": "places"},
    "dead_corners_cleaned": {"zh": "清理卫生死角", "en": "Dead corners cleaned", "unit_zh": "处", "unit_en": "places"},
    "wire_charging_handled": {"zh": "整治飞线充电", "en": "Flying-wire charging handled", "unit_zh": "人次", "unit_en": "person-times"},
}

# Field problem categories (starting list from the domain notes).
CATEGORIES = {
    "dead_corner": {"zh": "卫生死角", "en": "Sanitation dead corner"},
    "dumping": {"zh": "乱堆放", "en": "Dumping"},
    "flyers": {"zh": "牛皮癣/乱张贴", "en": "Illegal flyers"},
    "graffiti": {"zh": "乱涂写", "en": "Graffiti"},
    "illegal_structure": {"zh": "乱搭建", "en": "Illegal structure"},
    "wire_charging": {"zh": "飞线充电", "en": "Flying-wire charging"},
    "street_vending": {"zh": "占道经营/流动摊贩", "en": "Street vending"},
    "illegal_parking": {"zh": "车辆乱停", "en": "Illegal parking"},
    "fire_lane": {"zh": "占用消防通道", "en": "Blocked fire lane"},
    "sewer": {"zh": "下水道堵塞", "en": "Blocked sewer"},
    "dog_nuisance": {"zh": "不文明养犬", "en": "Dog nuisance"},
    "other": {"zh": "其他", "en": "Other"},
}

# Report workflow states after GB/T 30428.
REPORT_STATES = {
    "reported": {"zh": "上报", "en": "Reported"},
    "accepted": {"zh": "立案", "en": "Accepted"},
    "dispatched": {"zh": "派遣", "en": "Dispatched"},
    "rectified": {"zh": "处置", "en": "Rectified"},
    "verified": {"zh": "核查", "en": "Verified"},
    "closed": {"zh": "结案", "en": "Closed"},
}

# Where a report's position came from (gisapp.reports).
POSITION_SOURCES = {
    "geolocation": {"zh": "手机定位", "en": "Phone location"},
    "exif": {"zh": "照片位置信息", "en": "Photo GPS (EXIF)"},
    "map": {"zh": "地图选点", "en": "Tapped on the map"},
    "import": {"zh": "批量导入", "en": "Bulk import"},
}

# Workflow actions on a report (GB/T 30428): name -> labels.
REPORT_ACTIONS = {
    "report": {"zh": "上报", "en": "Reported"},
    "accept": {"zh": "立案", "en": "Accept"},
    "reject": {"zh": "不予立案", "en": "Reject"},
    "dispatch": {"zh": "派遣", "en": "Dispatch"},
    "rectify": {"zh": "处置", "en": "Rectified"},
    "verify": {"zh": "核查通过", "en": "Verified"},
    "send_back": {"zh": "核查退回", "en": "Send back"},
    "close": {"zh": "结案", "en": "Close"},
    "edit": {"zh": "修改", "en": "Edited"},
    "add_photo": {"zh": "补充照片", "en": "Photo added"},
    "flag_duplicate": {"zh": "疑似重复", "en": "Possible duplicate"},
    "merge": {"zh": "合并重复", "en": "Merged as duplicate"},
    "dismiss_duplicate": {"zh": "排除重复", "en": "Not a duplicate"},
}

REPORT_SOURCES = {
    "field": {"zh": "网格员上报", "en": "Field staff"},
    "inspection": {"zh": "督查发现", "en": "Inspection"},
    "complaint": {"zh": "群众反映", "en": "Residents' complaint"},
}
