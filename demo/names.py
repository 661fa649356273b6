"""The look of the demo city: Wuhan's districts and streets, Chinese names, and valid identifiers.

Everything here is drawn from a ``random.Random`` handed in, so one seed gives one city.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from itertools import accumulate

from domain.identifiers import credit_check_character, id_check_character, organisation_check_character

# The 13 districts of Wuhan (GB/T 2260), each with streets whose names the communities take.
WUHAN_DISTRICTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "420102",
        "江岸区",
        (
            "大智",
            "一元",
            "车站",
            "四唯",
            "永清",
            "西马",
            "球场",
            "劳动",
            "二七",
            "新村",
            "丹水池",
            "台北",
            "花桥",
            "后湖",
            "塔子湖",
        ),
    ),
    (
        "420103",
        "江汉区",
        ("民族", "花楼", "水塔", "民权", "满春", "民意", "新华", "万松", "唐家墩", "北湖", "常青", "汉兴"),
    ),
    (
        "420104",
        "硚口区",
        ("古田", "韩家墩", "宗关", "汉水桥", "宝丰", "荣华", "汉中", "汉正", "六角亭", "长丰", "易家"),
    ),
    ("420105", "汉阳区", ("建桥", "晴川", "鹦鹉", "洲头", "五里墩", "琴断口", "江汉二桥", "永丰", "江堤", "四新")),
    (
        "420106",
        "武昌区",
        (
            "积玉桥",
            "杨园",
            "徐家棚",
            "粮道",
            "中华路",
            "黄鹤楼",
            "紫阳",
            "白沙洲",
            "首义路",
            "中南路",
            "水果湖",
            "珞珈山",
            "石洞",
            "南湖",
        ),
    ),
    (
        "420107",
        "青山区",
        ("红卫路", "冶金", "新沟桥", "红钢城", "工人村", "青山镇", "厂前", "武东", "白玉山", "钢花村"),
    ),
    ("420111", "洪山区", ("珞南", "关山", "狮子山", "张家湾", "梨园", "卓刀泉", "洪山", "和平", "青菱", "九峰")),
    ("420112", "东西湖区", ("吴家山", "将军路", "慈惠", "走马岭", "径河", "长青", "金银湖", "新沟镇")),
    ("420113", "汉南区", ("纱帽", "邓南", "东荆", "湘口")),
    ("420114", "蔡甸区", ("蔡甸", "奓山", "永安", "侏儒山", "大集", "张湾", "索河", "玉贤")),
    ("420115", "江夏区", ("纸坊", "金口", "乌龙泉", "郑店", "五里界", "山坡", "法泗", "湖泗", "安山", "舒安")),
    (
        "420116",
        "黄陂区",
        ("前川", "祁家湾", "横店", "罗汉寺", "滠口", "六指", "天河", "王家河", "长轩岭", "李家集", "武湖"),
    ),
    ("420117", "新洲区", ("邾城", "阳逻", "仓埠", "汪集", "李集", "三店", "潘塘", "旧街", "双柳", "涨渡湖")),
)

COMMUNITY_SUFFIXES = ("社区", "新村社区", "花园社区")

ROADS = (
    "解放大道",
    "中山大道",
    "建设大道",
    "京汉大道",
    "沿江大道",
    "发展大道",
    "武珞路",
    "珞喻路",
    "中南路",
    "和平大道",
    "友谊大道",
    "徐东大街",
    "汉阳大道",
    "鹦鹉大道",
    "琴台大道",
    "民族大道",
    "雄楚大道",
    "光谷大道",
    "金银湖路",
    "东吴大道",
    "纸坊大街",
    "黄陂大道",
    "问津大道",
    "新华路",
    "青年路",
    "江汉路",
    "古田二路",
)

# Common surnames, the most frequent first, with rough weights.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_CUMULATIVE_WEIGHTS = tuple(accumulate(max(1.0, 80.0 / (rank + 1) ** 0.9) for rank in range(len(SURNAMES))))
MALE_CHARACTERS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳峰建国志文睿晨博子轩然昊天诚"
FEMALE_CHARACTERS = "芳娜敏静丽艳娟霞秀燕玲桂英红梅琳莉婷雪慧倩颖洁欣怡佳琪萱涵悦晶丹萍兰瑶璐思雨梦"

EMPLOYER_BRANDS = (
    "长江",
    "楚天",
    "江城",
    "汉通",
    "光谷",
    "华信",
    "鼎盛",
    "东湖",
    "黄鹤",
    "晴川",
    "知音",
    "九州",
    "恒达",
    "宏图",
    "博远",
    "中诚",
    "金桥",
    "天元",
    "华中",
    "荆楚",
    "江汉",
    "龟山",
    "汉正",
    "珞珈",
    "卓越",
    "新途",
    "同济",
    "百步亭",
)
EMPLOYER_TRADES = (
    "科技有限公司",
    "商贸有限公司",
    "建设工程有限公司",
    "物流有限公司",
    "餐饮管理有限公司",
    "电子有限公司",
    "印务有限公司",
    "医药连锁有限公司",
    "物业服务有限公司",
    "机械制造有限公司",
    "汽车零部件有限公司",
    "软件有限公司",
    "装饰工程有限公司",
    "食品有限公司",
    "酒店管理有限公司",
    "光电子有限公司",
    "教育咨询有限公司",
)

PHONE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
)

_CREDIT_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True, slots=True)
class DistrictInfo:
    code: str
    name: str
    streets: tuple[str, ...]


DISTRICTS = tuple(DistrictInfo(code, name, streets) for code, name, streets in WUHAN_DISTRICTS)


def community_name(street: str, index: int) -> str:
    return street + COMMUNITY_SUFFIXES[index % len(COMMUNITY_SUFFIXES)]


def office_name(district: DistrictInfo) -> str:
    return f"武汉市{district.name}社会保险服务大厅"


def street_address(rng: random.Random, district: DistrictInfo) -> str:
    return f"武汉市{district.name}{rng.choice(ROADS)}{rng.randint(1, 999)}号"


def home_address(rng: random.Random, district: DistrictInfo) -> str:
    return (
        f"{street_address(rng, district)}{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元"
        f"{rng.randint(1, 33)}{rng.randint(1, 6):02d}室"
    )


def person_name(rng: random.Random, is_male: bool) -> str:
    surname = rng.choices(SURNAMES, cum_weights=SURNAME_CUMULATIVE_WEIGHTS)[0]
    characters = MALE_CHARACTERS if is_male else FEMALE_CHARACTERS
    length = 1 if rng.random() < 0.3 else 2
    return surname + "".join(rng.choice(characters) for _ in range(length))


def employer_name(rng: random.Random) -> str:
    return f"武汉{rng.choice(EMPLOYER_BRANDS)}{rng.choice(EMPLOYER_TRADES)}"


def mobile_phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def resident_id(rng: random.Random, area_code: str, birth: dt.date, is_male: bool, taken: set[str]) -> str:
    """A new ID number (A1): the sequence is odd for a man, even for a woman."""
    while True:
        sequence = rng.randrange(1, 500) * 2 - (1 if is_male else 0)
        first17 = f"{area_code}{birth:%Y%m%d}{sequence:03d}"
        number = first17 + id_check_character(first17)
        if number not in taken:
            taken.add(number)
            return number


def credit_code(rng: random.Random, area_code: str, taken: set[str]) -> str:
    """A new unified social credit code (A2) of an enterprise (91) registered in ``area_code``.

    The organisation code is drawn from the characters both standards allow, so that it reads
    the same inside the credit code.
    """
    while True:
        first8 = "MA4K" + "".join(rng.choice(_CREDIT_CHARACTERS) for _ in range(4))
        organisation = first8 + organisation_check_character(first8)
        first17 = f"91{area_code}{organisation}"
        code = first17 + credit_check_character(first17)
        if code not in taken:
            taken.add(code)
            return code
