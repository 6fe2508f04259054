{#- MySQL/MariaDB: replace a daily model's partition window in bounded, month-sized chunks.

    Why (measured at full scale on MariaDB, docs/benchmarks.md): one statement over a 14-month
    window materializes millions of rows in the server's internal temporary tables (CTEs with
    window functions, GROUP BY), which spill to disk above `tmp_table_size` and run 5-6 times
    slower; and one delete + insert of 5 M rows holds millions of row locks in one transaction.
    A month is ~0.4 M silver rows: its temporary tables stay in memory and each chunk is its own
    short transaction (delete the chunk's dates, insert them), so readers and the next run never
    wait for a whole-history rebuild. A window of one month or less (the daily run) is one chunk:
    replaced whole or not at all, as before. A longer window is replaced month by month; if a
    chunk fails, the months before it are already replaced (with correct data: each chunk is a
    complete recomputation of its dates) and re-running the window finishes the job.

    The model SQL reads its window through `chunk_start()` / `chunk_end()`: on MySQL they are the
    session variables this materialization sets per chunk (falling back to the run's window), on
    DuckDB simply the window (DuckDB keeps dbt's `incremental` materialization: it has neither
    problem). The window's date column is config `window_date_column` (default `snapshot_date`). -#}

{% macro chunk_start() -%}{{ adapter.dispatch('chunk_start')() }}{%- endmacro %}
{% macro default__chunk_start() -%}{{ window_start() }}{%- endmacro %}
{% macro mysql__chunk_start() -%}cast(coalesce(@occupancy_chunk_start, {{ window_start() }}) as date){%- endmacro %}

{% macro chunk_end() -%}{{ adapter.dispatch('chunk_end')() }}{%- endmacro %}
{% macro default__chunk_end() -%}{{ window_end() }}{%- endmacro %}
{% macro mysql__chunk_end() -%}cast(coalesce(@occupancy_chunk_end, {{ window_end() }}) as date){%- endmacro %}

{#- The materialization a daily model uses: chunked window replace on MySQL, incremental elsewhere. -#}
{% macro window_materialization() -%}
  {{- 'window_replace' if target.type == 'mysql' else 'incremental' -}}
{%- endmacro %}

{#- [(start, end), ...] ISO dates covering [window start, window end] exactly once: calendar
    months up to the current one; the last chunk runs to the window's end (a window without
    max_date ends in 9999; snapshots are never dated after today, so that chunk is normally empty). -#}
{% macro window_chunks() -%}
  {%- set dt = modules.datetime -%}
  {%- set end = dt.date.fromisoformat(var('max_date', '9999-12-31') | string) -%}
  {%- set horizon = dt.date.today() -%}
  {%- set chunks = [] -%}
  {%- set state = {'start': dt.date.fromisoformat(var('min_date', var('history_start')) | string)} -%}
  {%- for _ in range(1200) if state['start'] is not none -%}
    {%- set s = state['start'] -%}
    {%- set next_month = (s.replace(day=28) + dt.timedelta(days=4)).replace(day=1) if s <= horizon else none -%}
    {%- if next_month is none or next_month > end -%}
      {%- do chunks.append((s.isoformat(), end.isoformat())) -%}
      {%- do state.update({'start': none}) -%}
    {%- else -%}
      {%- do chunks.append((s.isoformat(), (next_month - dt.timedelta(days=1)).isoformat())) -%}
      {%- do state.update({'start': next_month}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if state['start'] is not none -%}{%- do chunks.append((state['start'].isoformat(), end.isoformat())) -%}{%- endif -%}
  {{ return(chunks) }}
{%- endmacro %}

{% materialization window_replace, adapter='mysql' %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_relation(this) -%}
  {%- set chunks = window_chunks() -%}
  {%- set date_column = config.get('window_date_column', 'snapshot_date') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- Internal temporary tables (window functions, GROUP BY, materialized CTEs) stay in memory
      up to this size instead of spilling to disk at the 16 MB default (a month of silver needs
      ~100 MB); READ COMMITTED: INSERT ... SELECT reads without share-locking the rows it reads.
      Every statement goes through `statement()` (auto_begin), never `run_query` (which does not
      begin dbt's transaction: the next statement's BEGIN would then implicitly commit it). -#}
  {%- call statement('window_session') -%}
    set session tmp_table_size = 1073741824, max_heap_table_size = 1073741824
  {%- endcall -%}
  {%- call statement('window_isolation') -%}
    set session transaction isolation level read committed
  {%- endcall -%}
  {%- do adapter.commit() -%}

  {%- set state = {'exists': existing_relation is not none, 'created': false, 'columns': none} -%}
  {%- for chunk in chunks -%}
    {#- one transaction per chunk: set its window, delete its dates, insert them, commit -#}
    {%- call statement('chunk_window_' ~ loop.index) -%}
      set @occupancy_chunk_start = '{{ chunk[0] }}', @occupancy_chunk_end = '{{ chunk[1] }}'
    {%- endcall -%}
    {%- set statement_name = 'main' if loop.last else 'chunk_' ~ loop.index -%}
    {%- if not state['exists'] -%}
      {%- call statement(statement_name) -%}
        {{ create_table_as(False, target_relation, sql) }}
      {%- endcall -%}
      {%- do state.update({'exists': true, 'created': true}) -%}
    {%- else -%}
      {%- if state['columns'] is none -%}
        {%- do state.update({'columns': adapter.get_columns_in_relation(target_relation) | map(attribute='quoted') | join(', ')}) -%}
      {%- endif -%}
      {#- a table created by this run has no indexes yet (the post-hooks add them once it is
          full) and no rows of this chunk: nothing to delete -#}
      {%- if not state['created'] -%}
        {%- call statement('chunk_delete_' ~ loop.index) -%}
          delete from {{ target_relation }} where {{ date_column }} between '{{ chunk[0] }}' and '{{ chunk[1] }}'
        {%- endcall -%}
      {%- endif -%}
      {%- call statement(statement_name) -%}
        insert into {{ target_relation }} ({{ state['columns'] }})
        select {{ state['columns'] }} from (
          {{ sql }}
        ) as window_chunk
      {%- endcall -%}
    {%- endif -%}
    {%- do adapter.commit() -%}
    {{ log("window_replace " ~ this ~ ": chunk " ~ chunk[0] ~ " .. " ~ chunk[1] ~ " done (" ~ loop.index ~ "/" ~ loop.length ~ ")") }}
  {%- endfor -%}
  {%- call statement('window_reset') -%}
    set @occupancy_chunk_start = null, @occupancy_chunk_end = null
  {%- endcall -%}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {%- do adapter.commit() -%}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}
