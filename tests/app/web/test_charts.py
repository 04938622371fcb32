"""Server-side SVG charts: well-formed, titled, values placed where they belong."""

from xml.etree import ElementTree

from app.web.charts import Point, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_draws_one_bar_per_label_with_its_share():
    svg = ElementTree.fromstring(str(bar_chart(
        [Point("Phường Hoàn Kiếm", 0.5), Point("Xã <Mường> Phăng", 1.0), Point("Chưa có", None)], title="Rút trong 3 ngày")))
    assert svg.attrib["role"] == "img" and svg.find(f"{SVG}title").text == "Rút trong 3 ngày"
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 3
    widths = [float(bar.attrib["width"]) for bar in bars]
    assert widths[1] == 2 * widths[0] and widths[2] == 0
    texts = [t.text for t in svg.findall(f"{SVG}text")]
    assert "50%" in texts and "100%" in texts and "—" in texts and "Xã <Mường> Phăng" in texts


def test_line_chart_maps_shares_to_height_and_skips_unknown_months():
    svg = ElementTree.fromstring(str(line_chart(
        [Point("01/26", 0.0), Point("02/26", None), Point("03/26", 1.0)], title="Xu hướng", height=212)))
    path = svg.find(f"{SVG}path").attrib["d"]
    moves = path.split(" ")
    assert len(moves) == 2  # the unknown month has no point
    assert moves[0].endswith(",182.0") and moves[1].endswith(",12.0")  # 0 % at the bottom, 100 % at the top
    assert len(svg.findall(f"{SVG}circle")) == 2


def test_step_line_for_cumulative_share_by_day():
    svg = ElementTree.fromstring(str(line_chart([Point(str(d), d / 10) for d in range(11)], title="x", step=True)))
    assert svg.find(f"{SVG}circle") is None
    assert svg.find(f"{SVG}path").attrib["d"].count("L") == 20
