"""Matplotlib's SVG made fit to inline in a page served under a strict Content-Security-Policy.

``default-src 'self'`` refuses ``<style>`` elements and ``style`` attributes, so every style
becomes a presentation attribute (``fill="#0072b2"``), which the policy does not govern.
Matplotlib's metadata, indentation and unreferenced ids are dropped, numbers are cut to two
decimals, and the chart gets a ``<title>`` (its name) and a ``<desc>`` (its figures, for screen
readers). ``web.charts`` draws; this module only rewrites.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
# What the browser draws the text with: the usual Chinese system fonts, then any sans-serif.
CSS_FONTS = (
    "'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', "
    "'Source Han Sans SC', 'WenQuanYi Zen Hei', sans-serif"
)

# Properties matplotlib writes in style attributes that SVG also takes as presentation attributes.
_PRESENTATION = frozenset(
    {
        "clip-path",
        "clip-rule",
        "color",
        "dominant-baseline",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-stretch",
        "font-style",
        "font-variant",
        "font-weight",
        "opacity",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-miterlimit",
        "stroke-opacity",
        "stroke-width",
        "text-anchor",
        "white-space",
    }
)
_NUMBER = re.compile(r"-?\d+\.\d{3,}")
_REFERENCE = re.compile(r"url\(#([^)]+)\)")


def inline_svg(data: bytes, title: str, desc: str) -> str:
    """Matplotlib's SVG made fit to inline under a strict content security policy."""
    root = ET.fromstring(data)
    _drop(root, {f"{{{SVG}}}metadata", f"{{{SVG}}}style"})
    for element in root.iter():
        # Plain names, the namespace declared once on the root: what an HTML parser expects
        # of inline SVG (and ElementTree cannot write a default namespace with plain attributes).
        element.tag = element.tag.rpartition("}")[2]
        _unstyle(element)
        href = element.attrib.pop(f"{{{XLINK}}}href", None)
        if href is not None:
            element.set("href", href)  # SVG 2; an HTML page's parser has no xlink prefix
        for name in ("d", "x", "y", "transform", "width", "height", "points", "viewBox"):
            if name in element.attrib:
                element.set(name, _short(element.attrib[name]))
        if element.tag == "text":
            element.attrib.pop("font-family", None)  # one font list, on the root
        else:
            element.text = None  # indentation
        element.tail = None
    used = {
        ref
        for element in root.iter()
        for value in element.attrib.values()
        for ref in _REFERENCE.findall(value)
    } | {
        element.attrib["href"][1:]
        for element in root.iter()
        if element.attrib.get("href", "").startswith("#")
    }
    for element in root.iter():
        if element.attrib.get("id") not in used:
            element.attrib.pop("id", None)
    _drop(root, set(), empty="defs")
    _unwrap_groups(root)
    root.attrib.pop("version", None)
    # What the removed stylesheet said for every element, now inherited from the root.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("font-family", CSS_FONTS)
    root.set("role", "img")
    root.set("aria-label", title)
    title_element = ET.Element("title")
    title_element.text = title
    desc_element = ET.Element("desc")
    desc_element.text = desc
    root.insert(0, desc_element)
    root.insert(0, title_element)
    root.set("xmlns", SVG)
    return ET.tostring(root, encoding="unicode")


def _drop(root: ET.Element, tags: set[str], empty: str | None = None) -> None:
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in tags or (child.tag == empty and len(child) == 0):
                parent.remove(child)


def _unwrap_groups(parent: ET.Element) -> None:
    """Lift the children of plain ``<g>`` wrappers (no attributes left) into their parent."""
    children: list[ET.Element] = []
    for child in parent:
        _unwrap_groups(child)
        if child.tag == "g" and not child.attrib:
            children.extend(child)
        else:
            children.append(child)
    parent[:] = children


def _unstyle(element: ET.Element) -> None:
    style = element.attrib.pop("style", None)
    if not style:
        return
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        name = name.strip()
        if not colon or not name:
            continue
        if name not in _PRESENTATION:
            # A property the policy would silently drop: fail where the chart is made and tested.
            raise ValueError(f"chart style {name!r} has no SVG presentation attribute")
        element.set(name, value.strip())


def _short(value: str) -> str:
    """Coordinates to two decimals (a hundredth of a point is below any screen's pixel)."""
    text = " ".join(value.split())
    return _NUMBER.sub(lambda m: _trim_coordinate(m.group()), text)


def _trim_coordinate(number: str) -> str:
    rounded = f"{float(number):.2f}".rstrip("0").rstrip(".")
    return "0" if rounded == "-0" else rounded
