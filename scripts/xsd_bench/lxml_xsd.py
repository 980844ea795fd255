#!/usr/bin/env python3
"""libxml2's XSD validation time on the corpus, to compare with
`cargo bench -p fse-cda --bench xsd` (run them one after the other).

    python3 scripts/xsd_bench/lxml_xsd.py [CORPUS]

CORPUS defaults to $FSE_CORPUS or ../shared/corpus. Measures, like the
criterion bench, validation of documents parsed beforehand (the set chosen
by typeId), warm: the median over repeated passes of the mean time per
document, and the same with parsing included.
"""
import os
import statistics
import sys
import time
from pathlib import Path

from lxml import etree

SETS = ("POCD_MT000040UV02", "POCD_HD000040")


def chosen_set(root):
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname.lower() == "typeid" and not el.prefix:
            ext = el.get("extension", "")
            return ext if ext in SETS else None
    return SETS[0]


def main():
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FSE_CORPUS", "../shared/corpus"))
    schemas = {s: etree.XMLSchema(etree.parse(str(corpus / "catalogs/schema" / s / "CDA.xsd"))) for s in SETS}
    files = sorted((corpus / "validation/docs").glob("*.xml")) + sorted((corpus / "cda").glob("*.xml"))
    sources = [f.read_bytes() for f in files]
    docs = []
    for src in sources:
        doc = etree.fromstring(src).getroottree()
        s = chosen_set(doc.getroot())
        if s is not None:
            docs.append((schemas[s], doc))
    for schema, doc in docs[:50]:  # warm up
        schema.validate(doc)
    passes = []
    for _ in range(10):
        start = time.perf_counter()
        for schema, doc in docs:
            schema.validate(doc)
        passes.append((time.perf_counter() - start) / len(docs))
    with_parse = []
    for _ in range(5):
        start = time.perf_counter()
        for src in sources:
            doc = etree.fromstring(src).getroottree()
            s = chosen_set(doc.getroot())
            if s is not None:
                schemas[s].validate(doc)
        with_parse.append((time.perf_counter() - start) / len(sources))
    print(f"lxml {etree.__version__} (libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}), {len(docs)} documents")
    print(f"xsd/corpus: median {statistics.median(passes) * 1e6:.1f} us per document")
    print(f"xsd/parse_and_validate/corpus: median {statistics.median(with_parse) * 1e6:.1f} us per document")


if __name__ == "__main__":
    main()
