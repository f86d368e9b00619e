"""The yearly справка: content.py says what it contains (from the published Parquet marts only), render.py makes the
DOCX from templates/spravka.docx and the PDF from that DOCX; make_template.py wrote the template's first version."""
