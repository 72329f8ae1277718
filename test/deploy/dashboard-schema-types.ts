// The types that dashboard-schema.ts checks each dashboard's JSON text against: the types @grafana/schema
// generates from Grafana's CUE schema, with each enum written as the value JSON holds ("absolute", not
// ThresholdsMode.Absolute). tsc checks this file like any other, so a type the package renames or drops
// fails `tsc --noEmit -p .` too.
import type { Dashboard, DataQuery, FieldConfig, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';

/**
 * T as JSON holds it: string and numeric enum members become their values. With AllOptional, every key
 * at every depth may be left out (Grafana fills a panel's options in from the plugin's defaults).
 */
export type Json<T, AllOptional extends boolean = false> = T extends string
  ? `${T}`
  : T extends number
    ? `${T}` extends `${infer N extends number}`
      ? N
      : never
    : T extends readonly (infer E)[]
      ? Json<E, AllOptional>[]
      : T extends object
        ? AllOptional extends true
          ? { [K in keyof T]?: Json<T[K], AllOptional> }
          : { [K in keyof T]: Json<T[K], AllOptional> }
        : T;

/** A dashboard (its `panels` are checked one by one, as PanelJson or RowPanelJson). */
export type DashboardJson = Json<Dashboard>;

export type RowPanelJson = Json<RowPanel>;

/**
 * A panel of a plugin whose `Options` and `FieldConfig` (the `fieldConfig.defaults.custom` object)
 * @grafana/schema publishes; its queries are Grafana's `DataQuery` plus the data source's own fields.
 */
export type PanelJson<Options, Custom> = Json<Omit<Panel, 'options' | 'fieldConfig' | 'targets'>> & {
  options?: Json<Options, true>;
  fieldConfig?: Json<Omit<FieldConfigSource, 'defaults'>> & {
    defaults: Json<Omit<FieldConfig, 'custom'>> & { custom?: Json<Custom, true> };
  };
  targets?: (Json<DataQuery> & Record<string, unknown>)[];
};
