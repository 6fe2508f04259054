{#- The findings of a per-property check that the operator has not accepted: a row of the seed
    accepted_kpi_changes with this check name, the finding's date and its property accepts it
    (docs/operating.md, "Accepting a real change"). `findings` is a CTE with snapshot_date and
    apartment_id. -#}
{% macro unaccepted_property_findings(findings, check_name) -%}
select f.*
from {{ findings }} as f
left join {{ ref('accepted_kpi_changes') }} as a
    on a.check_name = '{{ check_name }}'
   and a.as_of_date = f.snapshot_date
   and a.apartment_id = f.apartment_id
where a.check_name is null
{%- endmacro %}
