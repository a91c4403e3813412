//! The model view: pick a preset or edit its spec, and read its layer table, totals, bar chart and
//! a comparison with another model, all updated as you type. The numbers come from
//! `cnn_models::analysis`; this file only lays them out.

use cnn_models::analysis::BYTES;
use cnn_models::compare::compare;
use cnn_models::graph::OpKind;
use cnn_models::units::{bytes, si, thousands};
use cnn_models::{Analysis, PRESETS, Preset, Row};
use leptos::prelude::*;

use cnn_setup::lesson::Control;
use cnn_setup::spec_text;

use super::form::Locks;

fn shape([c, h, w]: [usize; 3]) -> String {
    if h == 1 && w == 1 { format!("{c}") } else { format!("{c}×{h}×{w}") }
}

#[component]
pub fn ModelView(
    spec_text: RwSignal<String>,
    analysis: Memo<Result<Analysis, String>>,
    /// The batch size typed in the training form, for the memory estimate.
    batch: Signal<String>,
    /// Called with a preset's own input size when the learner picks it.
    on_preset: Callback<usize>,
) -> impl IntoView {
    let every_layer = RwSignal::new(false);
    let locks = Locks::get();
    let compare_with = RwSignal::new(String::new());
    let batch_size = move || batch.get().trim().parse::<usize>().ok().filter(|&b| b > 0).unwrap_or(1);
    let pick = move |name: String| {
        if let Some(p) = Preset::find(&name) {
            spec_text.set(spec_text::format(&p.spec()));
            on_preset.run(p.size);
        }
    };
    // The preset menu names the preset whose spec is loaded, and says so when the spec is the
    // learner's own (edited, or from a file), so it never claims a choice that is not there.
    let loaded = Memo::new(move |_| {
        let spec = spec_text.with(|t| spec_text::parse(t).ok())?;
        Preset::of(&spec).map(|p| p.name)
    });
    let rows = Memo::new(move |_| {
        analysis.with(|a| {
            a.as_ref().map(|a| if every_layer.get() { a.rows.clone() } else { a.blocks() }).unwrap_or_default()
        })
    });
    let comparison = move || {
        let other = compare_with.get();
        let preset = Preset::find(&other)?;
        analysis.with(|a| {
            let a = a.as_ref().ok()?;
            let b = preset.spec().analyze(a.input).map_err(|e| format!("{other}: {e}"));
            Some(b.map(|b| (other.clone(), compare(a, &b, batch_size()))))
        })
    };

    view! {
        <section class="model">
            <h2>"Model"</h2>
            <div class="model-controls">
                <label>"Preset"
                    <select id="model" disabled=locks.locked(Control::Model) prop:value=move || loaded.get().unwrap_or("") on:change=move |ev| pick(event_target_value(&ev))>
                        <option value="">"(your own spec)"</option>
                        {PRESETS.iter().map(|p| view! { <option value=p.name title=p.about>{format!("{} ({} px)", p.name, p.size)}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Compare with"
                    <select id="compare-with" on:change=move |ev| compare_with.set(event_target_value(&ev))>
                        <option value="" selected>"nothing"</option>
                        {PRESETS.iter().map(|p| view! { <option value=p.name>{p.name}</option> }).collect_view()}
                    </select>
                </label>
                <label class="check"><input id="every-layer" type="checkbox" on:change=move |ev| every_layer.set(event_target_checked(&ev)) />"every layer"</label>
            </div>
            <textarea id="spec" spellcheck="false" rows="14" readonly=locks.locked(Control::Model) class:hidden=locks.hidden(Control::Model) prop:value=move || spec_text.get()
                on:input=move |ev| spec_text.set(event_target_value(&ev))></textarea>
            {move || analysis.with(|a| a.as_ref().err().map(|e| view! { <p id="spec-error" class="error">{e.clone()}</p> }))}
            {move || analysis.with(|a| a.as_ref().ok().map(|a| totals(a, batch_size())))}
            {move || comparison().map(|c| match c {
                Ok((other, rows)) => view! {
                    <table id="comparison">
                        <thead><tr><th></th><th>"this model"</th><th>{other.clone()}</th><th>"ratio"</th></tr></thead>
                        <tbody>{rows.into_iter().map(|r| {
                            let show = move |v: u64| if r.bytes { bytes(v) } else { thousands(v) };
                            view! { <tr><th>{r.what}</th><td>{show(r.left)}</td><td>{show(r.right)}</td>
                                <td>{r.ratio().map_or("–".into(), |x| format!("{x:.2}×"))}</td></tr> }
                        }).collect_view()}</tbody>
                    </table>
                }.into_any(),
                Err(e) => view! { <p id="comparison" class="note">{e}</p> }.into_any(),
            })}
            <Bars rows />
            <LayerTable rows />
        </section>
    }
}

fn totals(a: &Analysis, batch: usize) -> impl IntoView + use<> {
    let t = a.totals();
    let i = a.input;
    view! {
        <div id="totals" class="stats">
            <div><span class="k">{format!("{} on {}×{}×{}", a.family, i.channels, i.size, i.size)}</span>
                <span class="v" id="total-params">{thousands(t.params() as u64)}</span><span class="k">"parameters"</span></div>
            <div><span class="k">"conv / linear parameters"</span>
                <span class="v" id="split-params">{format!("{} / {}", thousands(t.conv_params as u64), thousands(t.dense_params as u64))}</span></div>
            <div><span class="k">"MACs per example"</span><span class="v" id="total-macs">{thousands(t.macs())}</span>
                <span class="k">{format!("conv {} / linear {}", si(t.conv_macs), si(t.dense_macs))}</span></div>
            <div><span class="k">"activations per example"</span><span class="v">{bytes(BYTES * t.activations)}</span></div>
            <div><span class="k">{format!("training memory at batch {batch}")}</span><span class="v" id="train-memory">{bytes(a.training_memory(batch))}</span></div>
        </div>
    }
}

/// Parameters and MACs per row as two horizontal bars, each scaled to its own largest row.
#[component]
fn Bars(rows: Memo<Vec<Row>>) -> impl IntoView {
    const ROW: f64 = 16.0;
    const LABEL: f64 = 230.0;
    const BAR: f64 = 330.0;
    view! {
        {move || rows.with(|rows| {
            let max_p = rows.iter().map(|r| r.params).max().unwrap_or(0).max(1) as f64;
            let max_m = rows.iter().map(|r| r.macs).max().unwrap_or(0).max(1) as f64;
            let height = ROW * (rows.len() + 1) as f64;
            view! {
                <svg id="bars" class="bars" viewBox=format!("0 0 {} {height}", LABEL + 2.0 * BAR + 20.0) aria-label="parameters and MACs per layer">
                    <text x=LABEL y="11" class="head">"parameters"</text>
                    <text x={LABEL + BAR + 10.0} y="11" class="head">"MACs"</text>
                    {rows.iter().enumerate().map(|(i, r)| {
                        let y = ROW * (i + 1) as f64;
                        view! {
                            <g>
                                <title>{format!("{}: {} parameters, {} MACs", r.name, thousands(r.params as u64), thousands(r.macs))}</title>
                                <text x="0" y={y + 11.0}>{r.name.clone()}</text>
                                <rect class="params" x=LABEL y={y + 2.0} height="12" width={BAR * r.params as f64 / max_p} />
                                <rect class="macs" x={LABEL + BAR + 10.0} y={y + 2.0} height="12" width={BAR * r.macs as f64 / max_m} />
                            </g>
                        }
                    }).collect_view()}
                </svg>
            }
        })}
    }
}

#[component]
fn LayerTable(rows: Memo<Vec<Row>>) -> impl IntoView {
    view! {
        <table id="layers" class="layers">
            <thead><tr><th>"layer"</th><th>"does"</th><th>"output"</th><th>"parameters"</th><th>"MACs"</th><th>"activations"</th></tr></thead>
            <tbody>
                {move || rows.get().into_iter().map(|r| {
                    let indent = format!("padding-left: {}rem", 0.3 + r.depth as f64);
                    let name = r.name.rsplit(" / ").next().unwrap_or(&r.name).to_string();
                    view! {
                        <tr class:dense=r.dense>
                            <td class="name" style=indent title=r.name.clone()>{name}</td>
                            <td class="op">{if r.depth == 0 && r.kind == OpKind::Block { String::new() } else { r.op.clone() }}</td>
                            <td>{shape(r.shape)}</td>
                            <td>{thousands(r.params as u64)}</td>
                            <td>{thousands(r.macs)}</td>
                            <td>{bytes(BYTES * r.activations)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
