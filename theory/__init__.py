"""HW1 theory part: one module per problem, every answer computed, then rendered to the hand-in PDF.

    python -m theory            print every answer
    python -m theory --json     the machine-readable answers (T1..T4)
    python -m theory --pdf PATH write the PDF (make theory: theory/HW1_theory.pdf)
    python -m theory --pdf PATH --if-stale   only when PATH was made from other sources (make zip)
"""
