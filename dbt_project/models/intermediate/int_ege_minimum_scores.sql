-- The ЕГЭ minimum test score that "below the minimum" counts against, per exam year and subject: the minimum for
-- the certificate (attestat) where the subject has one (Russian, profile maths), else the university minimum.
with minimums as (
    select * from {{ ref('ege_minimum_scores') }}
)

select
    exam_year,
    lower(subject) as subject_name_in_source,
    coalesce(
        max(case when purpose = 'attestat' then min_test_score end),
        max(case when purpose = 'university' then min_test_score end)
    ) as min_test_score
from minimums
group by exam_year, lower(subject)
