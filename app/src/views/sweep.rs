//! The sweep: pick one or two settings and their values, queue the runs, and read them in a table
//! (the model table's figures at once, each run's results as it finishes) and a chart of the
//! best test accuracy against the first setting or against MACs; a link and a CSV of it.

use charming::component::{Axis, Grid, Legend, Title};
use charming::datatype::CompositeValue;
use charming::element::{AxisType, ItemStyle, NameLocation, Tooltip, Trigger};
use charming::series::Line;
use cnn_models::units::{bytes, si, thousands};
use cnn_setup::lesson::Control;
use cnn_setup::link;
use cnn_setup::outcome::{self, Outcome};
use cnn_setup::sweep::{Setting, Sweep};
use leptos::prelude::*;

use super::charts::{COLOURS, EchartsInstance, init, round};
use super::form::Locks;
use super::lessons::address;
use crate::files;
use crate::state::runs::Runs;
use crate::state::sweeps::{self, Next, Queued, Sweeps};

/// A share as a percentage: whole below 10% would read as none (a ResNet's 0.2% of dense weights).
fn percent(share: Option<f64>) -> String {
    match share.map(|s| s * 100.0) {
        Some(p) if p < 10.0 => format!("{p:.1}%"),
        Some(p) => format!("{p:.0}%"),
        None => "–".into(),
    }
}

fn accuracy(a: Option<f32>) -> String {
    a.map_or("–".into(), |a| format!("{:.1}%", a * 100.0))
}

/// The setting selects and values, the buttons, and the queued sweep's table and chart.
#[component]
pub fn SweepView(
    sweeps: Sweeps,
    runs: Runs,
    /// Whether a sweep can be queued now (the data is loaded and nothing trains).
    can_start: Signal<bool>,
    sweep: Callback<()>,
    confirm: Callback<bool>,
    go_on: Callback<()>,
    stop: Callback<()>,
) -> impl IntoView {
    let Sweeps { draft, queued, asking, note } = sweeps;
    let (locked, hidden) = (Locks::get().locked(Control::Sweep), Locks::get().hidden(Control::Sweep));
    let setting_options = move |chosen: Option<Setting>| {
        Setting::ALL
            .into_iter()
            .map(|s| view! { <option value=s.id() selected=chosen == Some(s)>{s.label()}</option> })
            .collect_view()
    };
    // The model tables once per sweep; the runs' figures as they come.
    let defined = Memo::new(move |_| queued.with(|q| q.as_ref().map(|q| q.sweep.clone())));
    let planned = Memo::new(move |_| defined.with(|s| s.as_ref().map(sweeps::planned)).unwrap_or_default());
    let rows = Memo::new(move |_| {
        queued.with(|q| {
            let q = q.as_ref()?;
            Some(planned.with(|p| runs.list.with(|l| (sweeps::outcomes(p, q, l), sweeps::next(q, l)))))
        })
    });
    view! {
        <section class="sweep" aria-label="Sweep" class:hidden=hidden>
            <h2>"Sweep"</h2>
            <p class="note">"Train the form's setup at several values of one or two settings, one run after another, and compare the runs in a table."</p>
            <div class="controls">
                <label>"Vary"
                    <select id="sweep-first" disabled=locked
                        on:change=move |ev| {
                            let Some(s) = Setting::from_id(&event_target_value(&ev)) else { return };
                            draft.update(|d| { d.first = s; d.first_values = s.example().into(); });
                        }>
                        {move || setting_options(Some(draft.with(|d| d.first)))}
                    </select>
                </label>
                <label>"at"
                    <input id="sweep-first-values" disabled=locked prop:value=move || draft.with(|d| d.first_values.clone())
                        on:input=move |ev| draft.update(|d| d.first_values = event_target_value(&ev)) />
                </label>
                <label>"and"
                    <select id="sweep-second" disabled=locked
                        on:change=move |ev| {
                            let second = Setting::from_id(&event_target_value(&ev));
                            draft.update(|d| { d.second = second; d.second_values = second.map_or("", |s| s.example()).into(); });
                        }>
                        <option value="" selected=move || draft.with(|d| d.second.is_none())>"nothing else"</option>
                        {move || setting_options(draft.with(|d| d.second))}
                    </select>
                </label>
                <label>"at"
                    <input id="sweep-second-values" disabled=move || locked() || draft.with(|d| d.second.is_none())
                        prop:value=move || draft.with(|d| d.second_values.clone())
                        on:input=move |ev| draft.update(|d| d.second_values = event_target_value(&ev)) />
                </label>
                <button id="sweep" type="button" disabled=move || !can_start.get() on:click=move |_| sweep.run(())>"Sweep"</button>
            </div>
            {move || asking.with(|a| a.as_ref().map(Sweep::runs)).map(|n| view! {
                <p id="sweep-ask" class="error" role="alert">{format!("This sweep makes {n} runs, which will take a while. Queue them all?")}
                    " "<button id="sweep-yes" type="button" on:click=move |_| confirm.run(true)>"Queue them"</button>
                    " "<button id="sweep-no" type="button" on:click=move |_| confirm.run(false)>"Cancel"</button>
                </p>
            })}
            {move || note.get().map(|n| view! { <p id="sweep-note" class="note">{n}</p> })}
            {move || queued.get().map(|q| {
                let (rows, next) = rows.get().unwrap_or((vec![], Next::Done));
                view! { <Queue queued=q rows next go_on stop /> }
            })}
            <SweepChart sweeps rows=Signal::derive(move || rows.get().map(|(r, _)| r).unwrap_or_default()) />
        </section>
    }
}

/// The queued sweep: where it stands, its buttons, link and table.
#[component]
fn Queue(queued: Queued, rows: Vec<Outcome>, next: Next, go_on: Callback<()>, stop: Callback<()>) -> impl IntoView {
    let done = rows.iter().filter(|r| !matches!(r.state.as_str(), "queued" | "training" | "stopped")).count();
    let stands = match next {
        Next::Done => format!("done: {} runs", rows.len()),
        _ if queued.stopped => format!("stopped after {done} of {} runs", rows.len()),
        _ => format!("{done} of {} runs done", rows.len()),
    };
    let csv = outcome::csv(&queued.sweep, &rows);
    let file = files::file_name(&queued.name, "csv");
    let download = move |_| {
        if let Err(why) = files::download(csv.as_bytes(), &file) {
            leptos::logging::warn!("{why}");
        }
    };
    let link = address(&link::sweep_fragment(&queued.sweep));
    let settings: Vec<Setting> = queued.sweep.axes.iter().map(|a| a.setting).collect();
    view! {
        <h3 id="sweep-name">{queued.name.clone()}</h3>
        <p id="sweep-state">{stands}</p>
        <div class="controls">
            {(next != Next::Done && !queued.stopped).then(|| view! {
                <button id="sweep-stop" type="button" on:click=move |_| stop.run(())>"Stop the sweep"</button>
            })}
            {(next != Next::Done && queued.stopped).then(|| view! {
                <button id="sweep-go-on" type="button" on:click=move |_| go_on.run(())>"Go on with the sweep"</button>
            })}
            <button id="sweep-csv" type="button" on:click=download>"Download CSV"</button>
        </div>
        <label class="link">"Link to this sweep"<input id="sweep-link" readonly prop:value=link /></label>
        <div class="table-wrap">
            <table id="sweep-table">
                <thead><tr>
                    {settings.iter().map(|s| view! { <th>{s.label()}</th> }).collect_view()}
                    <th>"State"</th><th>"Parameters"</th><th>"Dense share"</th><th>"MACs"</th><th>"Conv share"</th>
                    <th>"Training memory"</th><th>"Epochs"</th><th>"Final test accuracy"</th><th>"Best test accuracy"</th><th>"s / epoch"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr>
                            {r.values.iter().map(|v| view! { <td>{v.clone()}</td> }).collect_view()}
                            <td class="state">{r.state.clone()}</td>
                            <td>{r.params.map_or("–".into(), |p| thousands(p as u64))}</td>
                            <td>{percent(r.dense_share)}</td>
                            <td>{r.macs.map_or("–".into(), si)}</td>
                            <td>{percent(r.conv_share)}</td>
                            <td>{r.memory.map_or("–".into(), bytes)}</td>
                            <td>{r.epochs}</td>
                            <td class="final">{accuracy(r.final_accuracy)}</td>
                            <td class="best">{accuracy(r.best_accuracy)}</td>
                            <td>{r.seconds_per_epoch.map_or("–".into(), |s| format!("{s:.1}"))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The best test accuracy of each finished run against the first setting (one line per value of
/// the second), or against its MACs.
#[component]
fn SweepChart(sweeps: Sweeps, rows: Signal<Vec<Outcome>>) -> impl IntoView {
    let against_macs = RwSignal::new(false);
    let node = NodeRef::<leptos::html::Div>::new();
    let chart = StoredValue::new_local(None::<EchartsInstance>);
    Effect::new(move |_| {
        let (rows, macs) = (rows.get(), against_macs.get());
        let Some(sweep) = sweeps.queued.with(|q| q.as_ref().map(|q| q.sweep.clone())) else { return };
        let Some(element) = node.get() else { return };
        if chart.with_value(Option::is_none) {
            chart.set_value(init(&element).ok());
        }
        let option = serde_json::to_string(&accuracy_chart(&sweep, &rows, macs)).unwrap_or_default();
        let how = js_sys::JSON::parse(r#"{"replaceMerge":["series","xAxis"]}"#).unwrap_or_default();
        if let Ok(option) = js_sys::JSON::parse(&option) {
            chart.with_value(|c| c.iter().for_each(|c| c.set_option(&option, &how)));
        }
    });
    let _resize = window_event_listener(leptos::ev::resize, move |_| {
        chart.with_value(|c| c.iter().for_each(EchartsInstance::resize))
    });
    view! {
        <div class:hidden=move || sweeps.queued.with(Option::is_none)>
            <label class="check"><input id="sweep-against-macs" type="checkbox" on:change=move |ev| against_macs.set(event_target_checked(&ev)) />"against MACs"</label>
            <div id="sweep-chart" class="chart" node_ref=node></div>
        </div>
    }
}

fn accuracy_chart(sweep: &Sweep, rows: &[Outcome], against_macs: bool) -> charming::Chart {
    let first = &sweep.axes[0];
    let numeric = first.setting.numeric() || against_macs;
    let x_name = if against_macs { "MACs per example" } else { first.setting.label() };
    let x = |row: &Outcome| -> Option<CompositeValue> {
        if against_macs {
            row.macs.map(|m| CompositeValue::from(m as f64))
        } else if first.setting.numeric() {
            row.values.first()?.parse::<f64>().ok().map(CompositeValue::from)
        } else {
            row.values.first().cloned().map(CompositeValue::from)
        }
    };
    // One line per value of the second setting (or one line).
    let groups: Vec<Option<&String>> = match sweep.axes.get(1) {
        Some(second) => second.values.iter().map(Some).collect(),
        None => vec![None],
    };
    let x_axis = Axis::new()
        .type_(if against_macs {
            AxisType::Log
        } else if numeric {
            AxisType::Value
        } else {
            AxisType::Category
        })
        .name(x_name)
        .name_location(NameLocation::Middle)
        .name_gap(24);
    let x_axis = if numeric { x_axis.scale(true) } else { x_axis.data(first.values.clone()) };
    let chart = charming::Chart::new()
        .animation(false)
        .title(Title::new().text("Best test accuracy (%)").left("center"))
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .grid(Grid::new().left(56).right(24).top(36).bottom(72))
        .x_axis(x_axis)
        .y_axis(Axis::new().type_(AxisType::Value).scale(true));
    let name =
        |group: Option<&String>| group.map_or("runs".to_string(), |g| format!("{} {g}", sweep.axes[1].setting.label()));
    let chart = chart.legend(Legend::new().bottom(0).data(groups.iter().map(|g| name(*g)).collect()));
    groups.into_iter().enumerate().fold(chart, |chart, (i, group)| {
        let points: Vec<Vec<CompositeValue>> = rows
            .iter()
            .filter(|r| group.is_none_or(|g| r.values.get(1) == Some(g)))
            .filter_map(|r| Some(vec![x(r)?, CompositeValue::from(round(f64::from(r.best_accuracy?) * 100.0))]))
            .collect();
        let colour = COLOURS[i % COLOURS.len()];
        chart.series(Line::new().name(name(group)).item_style(ItemStyle::new().color(colour)).data(points))
    })
}
