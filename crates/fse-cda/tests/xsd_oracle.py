#!/usr/bin/env python3
"""libxml2 (through lxml) as the oracle of fse-cda's XSD stage.

    xsd_oracle.py validate SCHEMA_DIR FILE...
        Prints one JSON object: for each file, {"set": ..., "errors":
        [[line, message], ...]} with the XSD set chosen as the Gateway does
        (the first typeId/@extension; POCD_MT000040UV02 without typeId;
        "set": null when the extension names no set), or {"wf": message}
        when the file is not well-formed.

    xsd_oracle.py mutate SEED COUNT OUT_DIR SAMPLE...
        Writes COUNT documents, each a SAMPLE with one to three random
        structural or value mutations, as OUT_DIR/m00000.xml...; the same
        SEED gives the same documents.
"""
import copy
import json
import os
import random
import sys

from lxml import etree

SETS = ("POCD_MT000040UV02", "POCD_HD000040")
HL7 = "urn:hl7-org:v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def chosen_set(root):
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el).localname
        if el.prefix:
            name = el.prefix + ":" + name
        if name.lower() == "typeid":
            ext = el.get("extension", "")
            return ext if ext in SETS else None
    return SETS[0]


def validate(schema_dir, files):
    schemas = {s: etree.XMLSchema(etree.parse(os.path.join(schema_dir, s, "CDA.xsd"))) for s in SETS}
    out = {}
    for f in files:
        try:
            doc = etree.parse(f)
        except etree.XMLSyntaxError as e:
            out[f] = {"wf": str(e)}
            continue
        s = chosen_set(doc.getroot())
        errors = []
        if s is not None:
            schema = schemas[s]
            schema.validate(doc)
            errors = [[e.line, e.message] for e in schema.error_log]
        out[f] = {"set": s, "errors": errors}
    json.dump(out, sys.stdout)


VALUES = [
    "", " ", "  x  ", "x y", "XYZ", "true", "false", "1", "0", "-1", "+1", "1.", ".1", "1.5e3", "INF", "-INF", "NaN",
    "1,5", "2022", "20220101", "20220101123000.123+0100", "2022-01-01", "123456789012345", "2.16.840.1.113883.2.9.4.3.2",
    "2..1", "2.01", "1a", "a_b", "A1B2C3D4-1234-5678-9ABC-DEF012345678", "H", "H HP", "ZZ H", "it-IT", "it IT", "EVN",
    "INT", "OBS", "COMP", "RCT", "OP", "N", "mailto:a@b", "tel:+39 06 123", "%2", "a b#c", "#x", "http://[::1]:80/",
    "1:a", "Bold Italics", "x$", "id1 id2", "text/plain", "TXT", "B64", "SHA-256", "QUJD", "QUJ", "mg/L", "m L", "NI",
    "UNK", "\u00e9", "a\tb",
]
TYPES = [
    "PQ", "CD", "CE", "CV", "CS", "ST", "ED", "TS", "IVL_TS", "IVL_PQ", "INT", "REAL", "BL", "II", "RTO", "RTO_PQ_PQ",
    "ANY", "FOO", "SC", "TEL", "AD", "PN", "ON", "EN", "IVL_INT", "MO", "SXCM_TS", "PIVL_TS", "EIVL_TS", "SLIST_PQ",
    "URL", "PPD_PQ", "1x", "zz:PQ", "CO", "xs:string", "ActClass",
]
NAMES = ["foo", "code", "id", "text", "title", "value", "entry", "component", "templateId", "low", "high",
         "originalText", "translation", "content", "br", "paragraph", "family", "given", "city"]
FRAGMENTS = [
    '<paragraph xmlns="urn:hl7-org:v3">a<br/>b<content styleCode="Bold">c</content></paragraph>',
    '<list xmlns="urn:hl7-org:v3"><item>x</item><caption>c</caption></list>',
    '<table xmlns="urn:hl7-org:v3"><tbody><tr><td>1</td></tr></tbody><thead/></table>',
    '<content xmlns="urn:hl7-org:v3" ID="dup1">x</content>',
    '<footnote xmlns="urn:hl7-org:v3"><footnoteRef IDREF="x"/></footnote>',
]


def mutate_once(rng, root):
    elements = [e for e in root.iter() if isinstance(e.tag, str)][1:]
    e = rng.choice(elements)
    parent = e.getparent()
    op = rng.randrange(16)
    if op == 0:
        parent.remove(e)
    elif op == 1:
        parent.insert(parent.index(e), copy.deepcopy(e))
    elif op == 2:
        siblings = [c for c in parent if isinstance(c.tag, str)]
        i = siblings.index(e)
        if i + 1 < len(siblings):
            n = siblings[i + 1]
            parent.remove(n)
            parent.insert(parent.index(e), n)
    elif op == 3:
        parent.insert(parent.index(e) + rng.randrange(2), etree.Element("{%s}%s" % (HL7, rng.choice(NAMES))))
    elif op in (4, 5, 6):
        attrs = [k for k in e.attrib if not k.startswith("{")]
        if attrs:
            e.set(rng.choice(attrs), rng.choice(VALUES))
    elif op == 7:
        if e.attrib:
            del e.attrib[rng.choice(list(e.attrib))]
    elif op == 8:
        e.set(rng.choice(["classCode", "moodCode", "root", "value", "nullFlavor", "bogus", "ID", "{%s}nil" % XSI]),
              rng.choice(VALUES))
    elif op == 9:
        e.set("{%s}type" % XSI, rng.choice(TYPES))
    elif op == 10:
        text = rng.choice(["x", " ", "\n  "])
        if len(e):
            e[-1].tail = (e[-1].tail or "") + text
        else:
            e.text = (e.text or "") + text
    elif op == 11:
        target = rng.choice(elements)
        if target is not e and e not in target.iterancestors():
            parent.remove(e)
            target.append(e)
    elif op == 12:
        e.tag = "{%s}%s" % (rng.choice([HL7, "urn:hl7-org:sdtc", "urn:other"]), etree.QName(e).localname)
    elif op == 13:
        for child in list(e):
            e.remove(child)
    elif op == 14:
        texts = list(root.iter("{%s}text" % HL7))
        if texts:
            t = rng.choice(texts)
            t.insert(rng.randrange(len(t) + 1), etree.fromstring(rng.choice(FRAGMENTS)))
    else:
        e.append(etree.Element("{%s}%s" % (HL7, rng.choice(NAMES))))


def mutate(seed, count, out_dir, samples):
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    for i in range(count):
        tree = etree.parse(rng.choice(samples))
        root = tree.getroot()
        if rng.random() < 0.15:
            for t in root.iter("{%s}typeId" % HL7):
                t.set("extension", "POCD_HD000040")
                break
        for _ in range(rng.choice([1, 1, 2, 3])):
            mutate_once(rng, root)
        tree.write(os.path.join(out_dir, "m%05d.xml" % i), xml_declaration=True, encoding="UTF-8")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "validate":
        validate(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 5 and sys.argv[1] == "mutate":
        mutate(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
