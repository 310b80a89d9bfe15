#!/usr/bin/python3
"""Write the classroom example models of examples/models/ (standard library only, deterministic).

    examples/models/make_models.py                    # rewrites the three files next to it
    examples/models/make_models.py --name "ALICE" --out /tmp/tag   # a name tag for Alice

calibration_cube.stl (binary STL): a 20 mm cube, "X", "Y" and "Z" engraved 0.8 mm deep on its
front, right and top faces. name_tag.3mf: a 60 x 20 x 3 mm tag (2 mm plate, 1 mm raised letters of
a 5x7 bitmap font, a 5 mm square hole for a key ring). phone_stand.obj: a 80 x 70 x 72 mm phone
stand, an L-shaped side profile with a lip and a back rest at 65 degrees, extruded 70 mm.

The cube and the tag are unions of boxes on a rectilinear grid: a cell face between a full and an
empty cell is two triangles, so every edge is shared by exactly two triangles. Lit pixels are boxes
0.15 of a pixel apart, joined by the gap boxes between lit neighbours (and the corner box when the
four pixels around it are lit): two pixels touching by a corner only would make an edge of four
triangles. Every mesh is checked (closed, consistent winding, positive volume) before it is
written; the same arguments always write the same bytes.
"""
import argparse
import io
import math
import os
import struct
import sys
import unicodedata
import zipfile

# A 5x7 block font: 7 rows of 5 columns, top row first.
FONT = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    "-": "..... ..... ..... .###. ..... ..... .....",
    ".": "..... ..... ..... ..... ..... ..... ..#..",
    "'": "..#.. ..#.. ..... ..... ..... ..... .....",
    " ": "..... ..... ..... ..... ..... ..... .....",
}
GAP = 0.15  # the space between two pixel boxes, as a fraction of the pitch


def r4(v):
    """v rounded to 0.1 micrometre: equal coordinates computed two ways become one grid line."""
    return round(v, 4) + 0.0  # + 0.0: no "-0.0"


def text_bitmap(text):
    """The lit pixels of text as a set of (column, row), row 0 at the bottom, and its width in
    columns (one blank column between letters). ValueError naming a character the font lacks."""
    lit, col = set(), 0
    for i, ch in enumerate(text):
        if ch not in FONT:
            raise ValueError("no letter for %r in the font (A-Z, 0-9, space, - . ')" % ch)
        rows = FONT[ch].split()
        for r, line in enumerate(rows):
            for c, px in enumerate(line):
                if px == "#":
                    lit.add((col + c, 6 - r))
        col += 5 + (1 if i < len(text) - 1 else 0)
    return lit, col


def pixel_rects(lit, pitch, ox, oy):
    """The rectangles (u0, v0, u1, v1) covering the lit pixels drawn at pitch from (ox, oy): a box
    per pixel, a gap box between lit neighbours, a corner box where four pixels are lit. No two
    boxes touch by a corner only."""
    g = GAP * pitch / 2
    rects = []
    for (c, r) in sorted(lit):
        u0, v0 = ox + c * pitch, oy + r * pitch
        rects.append((u0 + g, v0 + g, u0 + pitch - g, v0 + pitch - g))
        if (c + 1, r) in lit:
            rects.append((u0 + pitch - g, v0 + g, u0 + pitch + g, v0 + pitch - g))
        if (c, r + 1) in lit:
            rects.append((u0 + g, v0 + pitch - g, u0 + pitch - g, v0 + pitch + g))
        if {(c + 1, r), (c, r + 1), (c + 1, r + 1)} <= lit:
            rects.append((u0 + pitch - g, v0 + pitch - g, u0 + pitch + g, v0 + pitch + g))
    return [tuple(r4(x) for x in rc) for rc in rects]


def box_mesh(xs, ys, zs, full):
    """The closed surface of the full cells of the grid (sorted coordinate lists xs, ys, zs;
    full(i, j, k) says whether cell [xs[i], xs[i+1]] x ... is solid): (vertices, triangles), each
    triangle counter-clockwise seen from outside."""
    axes = (xs, ys, zs)
    n = [len(a) - 1 for a in axes]
    solid = {}
    for i in range(n[0]):
        for j in range(n[1]):
            for k in range(n[2]):
                if full(i, j, k):
                    solid[(i, j, k)] = True
    index, verts, tris = {}, [], []

    def vid(p):
        if p not in index:
            index[p] = len(verts)
            verts.append(tuple(axes[a][p[a]] for a in range(3)))
        return index[p]

    for d in range(3):
        u, v = (d + 1) % 3, (d + 2) % 3  # (d, u, v) cyclic: e_u x e_v = e_d
        for f in range(n[d] + 1):
            for a in range(n[u]):
                for b in range(n[v]):
                    lo, hi = [0, 0, 0], [0, 0, 0]
                    lo[d], hi[d], lo[u], hi[u], lo[v], hi[v] = f - 1, f, a, a, b, b
                    below, above = tuple(lo) in solid, tuple(hi) in solid
                    if below == above:
                        continue
                    corners = []
                    for du, dv in ((0, 0), (1, 0), (1, 1), (0, 1)):
                        p = [0, 0, 0]
                        p[d], p[u], p[v] = f, a + du, b + dv
                        corners.append(vid(tuple(p)))
                    if above:  # the outside is below: normal -d, the other way round
                        corners.reverse()
                    tris.append((corners[0], corners[1], corners[2]))
                    tris.append((corners[0], corners[2], corners[3]))
    return verts, tris


def cells_in(rects, us, vs):
    """The set of (i, j) cells of the grid us x vs inside one of rects (their edges are lines
    of the grid)."""
    ui = {u: i for i, u in enumerate(us)}
    vi = {v: j for j, v in enumerate(vs)}
    out = set()
    for u0, v0, u1, v1 in rects:
        for i in range(ui[u0], ui[u1]):
            for j in range(vi[v0], vi[v1]):
                out.add((i, j))
    return out


def check_mesh(name, verts, tris):
    """Raise ValueError unless the mesh is closed and consistently wound outwards: each edge in
    exactly two triangles, once each way, no degenerate triangle, a positive volume."""
    edges = {}
    for t in tris:
        if len(set(t)) != 3 or len({verts[i] for i in t}) != 3:
            raise ValueError("%s: degenerate triangle %s" % (name, t))
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            edges[(a, b)] = edges.get((a, b), 0) + 1
    for (a, b), count in edges.items():
        if count != 1 or edges.get((b, a)) != 1:
            raise ValueError("%s: edge %s-%s is in %d triangle(s) one way, %d the other" % (
                name, verts[a], verts[b], count, edges.get((b, a), 0)))
    vol = 0.0
    for a, b, c in tris:
        (x1, y1, z1), (x2, y2, z2), (x3, y3, z3) = verts[a], verts[b], verts[c]
        vol += (x1 * (y2 * z3 - y3 * z2) - x2 * (y1 * z3 - y3 * z1) + x3 * (y1 * z2 - y2 * z1)) / 6
    if vol <= 0:
        raise ValueError("%s: volume %.3f mm3: the triangles face inwards" % (name, vol))
    return vol


def calibration_cube():
    """A 20 mm cube with X on its front face (-Y), Y on its right face (+X), Z on the top, engraved
    0.8 mm deep, each letter 8 x 11.2 mm (pitch 1.6 mm), centred."""
    size, depth, pitch = 20.0, 0.8, 1.6
    o_h, o_v = r4((size - 5 * pitch) / 2), r4((size - 7 * pitch) / 2)  # letter origin on a face
    masks = {ch: pixel_rects(text_bitmap(ch)[0], pitch, o_h, o_v) for ch in "XYZ"}
    # front face: u = x, v = z; right face: u = y, v = z; top: u = x, v = y
    xs = {0.0, depth, size - depth, size}
    ys = {0.0, depth, size}
    zs = {0.0, size - depth, size}
    for u0, v0, u1, v1 in masks["X"]:
        xs |= {u0, u1}
        zs |= {v0, v1}
    for u0, v0, u1, v1 in masks["Y"]:
        ys |= {u0, u1}
        zs |= {v0, v1}
    for u0, v0, u1, v1 in masks["Z"]:
        xs |= {u0, u1}
        ys |= {v0, v1}
    xs, ys, zs = sorted(xs), sorted(ys), sorted(zs)
    front = cells_in(masks["X"], xs, zs)
    right = cells_in(masks["Y"], ys, zs)
    top = cells_in(masks["Z"], xs, ys)

    def full(i, j, k):
        if ys[j + 1] <= depth and (i, k) in front:
            return False
        if xs[i] >= size - depth and (j, k) in right:
            return False
        if zs[k] >= size - depth and (i, j) in top:
            return False
        return True

    return box_mesh(xs, ys, zs, full)


def name_tag(text):
    """A 60 x 20 mm tag: a 2 mm plate with a 5 mm square hole on the left, text in 1 mm raised
    letters centred on the rest (pitch up to 1.2 mm, less for a long text). ValueError when text
    is empty, too long, or has a character the font lacks."""
    w, h, plate, relief = 60.0, 20.0, 2.0, 1.0
    hole = (3.0, 7.5, 8.0, 12.5)
    area = (10.5, 2.0, 58.5, 18.0)  # where the text may go
    if not text.strip():
        raise ValueError("the name is empty")
    lit, cols = text_bitmap(text)
    pitch = min(1.2, (area[2] - area[0]) / cols, (area[3] - area[1]) / 7)
    if pitch < 0.6:
        raise ValueError("%r is too long for the tag (%d characters at most)" % (
            text, int(((area[2] - area[0]) / 0.6 + 1) // 6)))
    ox = (area[0] + area[2] - cols * pitch) / 2
    oy = (area[1] + area[3] - 7 * pitch) / 2
    rects = pixel_rects(lit, pitch, ox, oy)
    xs = {0.0, w, hole[0], hole[2]}
    ys = {0.0, h, hole[1], hole[3]}
    for u0, v0, u1, v1 in rects:
        xs |= {u0, u1}
        ys |= {v0, v1}
    xs, ys, zs = sorted(xs), sorted(ys), [0.0, plate, plate + relief]
    letters = cells_in(rects, xs, ys)

    def full(i, j, k):
        if k == 1:
            return (i, j) in letters
        return not (hole[0] <= xs[i] < hole[2] and hole[1] <= ys[j] < hole[3])

    return box_mesh(xs, ys, zs, full)


def triangulate(poly):
    """Ear clipping of a simple counter-clockwise polygon [(x, y)...]: triangles of indices, each
    counter-clockwise."""

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    idx, out = list(range(len(poly))), []
    while len(idx) > 3:
        for n in range(len(idx)):
            a, b, c = idx[n - 1], idx[n], idx[(n + 1) % len(idx)]
            if cross(poly[a], poly[b], poly[c]) <= 0:
                continue  # a reflex (or flat) corner is no ear
            if any(cross(poly[a], poly[b], poly[p]) >= 0 and cross(poly[b], poly[c], poly[p]) >= 0
                   and cross(poly[c], poly[a], poly[p]) >= 0 for p in idx if p not in (a, b, c)):
                continue  # another corner inside
            out.append((a, b, c))
            idx.pop(n)
            break
        else:
            raise ValueError("not a simple counter-clockwise polygon")
    out.append(tuple(idx))
    return out


def phone_stand():
    """The side profile (x depth, z height) of a stand: a 80 x 4 mm base, a 5 x 15 mm lip at the
    front, a 5 mm thick back rest at 65 degrees from 13 mm behind the lip, 72 mm high; extruded
    70 mm along y."""
    width, angle, rest, thick, foot = 70.0, math.radians(65), 75.0, 5.0, 18.0
    dx, dz = math.cos(angle), math.sin(angle)
    top_front = (foot + rest * dx, 4 + rest * dz)
    top_back = (top_front[0] + thick * dz, top_front[1] - thick * dx)
    back_foot = (top_back[0] - (top_back[1] - 4) / dz * dx, 4.0)
    profile = [(0.0, 0.0), (80.0, 0.0), (80.0, 4.0), back_foot, top_back, top_front,
               (foot, 4.0), (5.0, 4.0), (5.0, 15.0), (0.0, 15.0)]
    profile = [(r4(x), r4(z)) for x, z in profile]
    n = len(profile)
    # counter-clockwise in (x, z) is a normal -y (e_x x e_z = -e_y): the side at y = 0
    verts = [(x, 0.0, z) for x, z in profile] + [(x, width, z) for x, z in profile]
    tris = []
    for a, b, c in triangulate(profile):
        tris.append((a, b, c))                   # y = 0: normal -y
        tris.append((a + n, c + n, b + n))       # y = width: normal +y
    for i in range(n):  # the walls, from edge i -> j of the y = 0 side
        j = (i + 1) % n
        tris.append((i, j + n, j))
        tris.append((i, i + n, j + n))
    return verts, tris


def fmt(v):
    """A coordinate as short text: 20, 1.65, 49.6956."""
    s = "%.4f" % v
    s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def stl_bytes(verts, tris, title):
    """A binary STL (little-endian; the header does not start with "solid")."""
    out = [struct.pack("<80sI", ("labbridge example: " + title).encode()[:80], len(tris))]
    for t in tris:
        p = [verts[i] for i in t]
        u = [p[1][k] - p[0][k] for k in range(3)]
        v = [p[2][k] - p[0][k] for k in range(3)]
        nx, ny, nz = u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]
        ln = math.sqrt(nx * nx + ny * ny + nz * nz)
        out.append(struct.pack("<12fH", nx / ln, ny / ln, nz / ln, *p[0], *p[1], *p[2], 0))
    return b"".join(out)


def obj_bytes(verts, tris, title):
    """A Wavefront OBJ: v and f lines (1-based), one object."""
    lines = ["# labbridge example: %s (millimetres)" % title, "o %s" % title.split()[0]]
    lines += ["v %s %s %s" % tuple(fmt(c) for c in v) for v in verts]
    lines += ["f %d %d %d" % (a + 1, b + 1, c + 1) for a, b, c in tris]
    return ("\n".join(lines) + "\n").encode()


def threemf_bytes(verts, tris, title):
    """A 3MF package (3MF core specification: [Content_Types].xml, _rels/.rels, 3D/3dmodel.model
    with one mesh object in millimetres), its zip entries dated 1980-01-01 and always deflated
    the same way."""
    types = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
             ' <Default Extension="rels" '
             'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\n'
             ' <Default Extension="model" '
             'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>\n'
             '</Types>\n')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\n'
            ' <Relationship Target="/3D/3dmodel.model" Id="rel0" '
            'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>\n'
            '</Relationships>\n')
    title_xml = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    model = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<model unit="millimeter" xml:lang="en-US" '
             'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">',
             ' <metadata name="Title">%s</metadata>' % title_xml,
             ' <resources>', '  <object id="1" type="model">', '   <mesh>', '    <vertices>']
    model += ['     <vertex x="%s" y="%s" z="%s"/>' % tuple(fmt(c) for c in v) for v in verts]
    model += ['    </vertices>', '    <triangles>']
    model += ['     <triangle v1="%d" v2="%d" v3="%d"/>' % t for t in tris]
    model += ['    </triangles>', '   </mesh>', '  </object>', ' </resources>',
              ' <build>', '  <item objectid="1"/>', ' </build>', '</model>', '']
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in (("[Content_Types].xml", types), ("_rels/.rels", rels),
                           ("3D/3dmodel.model", "\n".join(model))):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text.encode(), compresslevel=9)
    return buf.getvalue()


def plain_name(text):
    """text in capitals without accents (é -> E), for the font."""
    text = unicodedata.normalize("NFD", text.upper())
    return "".join(c for c in text if not unicodedata.combining(c))


def main():
    ap = argparse.ArgumentParser(description="Write the classroom example models.")
    ap.add_argument("--name", default="LABBRIDGE",
                    help="the name tag's text (default LABBRIDGE; A-Z 0-9 space - . ')")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="the folder to write to (default: this script's folder)")
    args = ap.parse_args()
    try:
        models = [("calibration_cube.stl", calibration_cube(), stl_bytes, "calibration cube"),
                  ("name_tag.3mf", name_tag(plain_name(args.name)), threemf_bytes,
                   "name tag " + plain_name(args.name)),
                  ("phone_stand.obj", phone_stand(), obj_bytes, "phone_stand")]
    except ValueError as e:
        ap.error(str(e))
    os.makedirs(args.out, exist_ok=True)
    for fname, (verts, tris), write, title in models:
        vol = check_mesh(fname, verts, tris)
        lo = [min(v[k] for v in verts) for k in range(3)]
        hi = [max(v[k] for v in verts) for k in range(3)]
        data = write(verts, tris, title)
        with open(os.path.join(args.out, fname), "wb") as f:
            f.write(data)
        print("%s: %g x %g x %g mm, %d triangles, %.0f mm3, %d bytes" % (
            fname, hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], len(tris), vol, len(data)))


if __name__ == "__main__":
    sys.exit(main())
