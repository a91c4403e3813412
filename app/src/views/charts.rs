//! The live charts: training loss and accuracy per step (smoothed, each batch faint), test loss
//! and accuracy per epoch, the learning rate and the speed, for every run drawn (the one in
//! progress and those ticked in the runs list), against epochs so that runs with other batch
//! sizes line up. The options are built with `charming`; ECharts (served from the site, see
//! index.html) draws them, with hover values, a legend and a log scale for the loss.

use charming::component::{Axis, Grid, Legend, Title};
use charming::element::{AxisType, ItemStyle, LineStyle, LineStyleType, NameLocation, Symbol, Tooltip, Trigger};
use charming::series::{Line, Scatter};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use super::legend;
use crate::state::run::{Run, StepPoint};
use crate::state::runs::Runs;

#[wasm_bindgen]
extern "C" {
    /// One ECharts chart. The bindings are ours rather than charming's `wasm` renderer: its
    /// `setOption` merges series, so a run taken off the charts would stay drawn.
    pub(super) type EchartsInstance;
    #[wasm_bindgen(catch, js_namespace = echarts, js_name = init)]
    pub(super) fn init(element: &web_sys::HtmlElement) -> Result<EchartsInstance, JsValue>;
    #[wasm_bindgen(method, js_name = setOption)]
    pub(super) fn set_option(this: &EchartsInstance, option: &JsValue, how: &JsValue);
    #[wasm_bindgen(method)]
    pub(super) fn resize(this: &EchartsInstance);
}

/// Lines of a few colours that tell runs apart (ECharts' own first five).
pub(super) const COLOURS: [&str; 5] = ["#5470c6", "#ee6666", "#3ba272", "#fc8452", "#9a60b4"];

/// Four significant digits: what a chart shows, in a quarter of the bytes.
pub(super) fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(3 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

/// An exponential moving average over about `window` values, unbiased at the start.
fn smoothed(values: &[f64], window: f64) -> Vec<f64> {
    let beta = 1.0 - 1.0 / window.max(1.0);
    let (mut mean, mut weight) = (0.0, 0.0);
    values
        .iter()
        .map(|v| {
            mean = beta * mean + (1.0 - beta) * v;
            weight = beta * weight + (1.0 - beta);
            mean / weight
        })
        .collect()
}

/// One run as drawn: its points against epochs.
struct Trace {
    label: String,
    colour: &'static str,
    /// Where each step ends, in epochs.
    x: Vec<f64>,
    /// Steps per epoch, which sets the smoothing window.
    steps_per_epoch: f64,
    run: Run,
}

impl Trace {
    fn points(&self, y: impl Fn(&StepPoint) -> Option<f64>) -> Vec<(f64, f64)> {
        self.x.iter().zip(&self.run.steps).filter_map(|(x, s)| Some((*x, y(s)?))).collect()
    }

    /// The faint line of each batch and the smoothed one over it, in the run's colour.
    fn per_step(&self, y: impl Fn(&StepPoint) -> Option<f64>, scale: f64) -> [Line; 2] {
        let points = self.points(y);
        let smooth =
            smoothed(&points.iter().map(|p| p.1).collect::<Vec<_>>(), (self.steps_per_epoch / 10.0).clamp(5.0, 50.0));
        let data = |ys: &mut dyn Iterator<Item = f64>| -> Vec<Vec<f64>> {
            points.iter().zip(ys).map(|((x, _), y)| vec![round(*x), round(y * scale)]).collect()
        };
        let line = |name: String, opacity: f64, width: f64| {
            Line::new()
                .name(name)
                .show_symbol(false)
                .item_style(ItemStyle::new().color(self.colour))
                .line_style(LineStyle::new().color(self.colour).opacity(opacity).width(width))
        };
        [
            line(format!("{} (each batch)", self.label), 0.25, 1.0).data(data(&mut points.iter().map(|p| p.1))),
            line(self.label.clone(), 1.0, 2.0).data(data(&mut smooth.into_iter())),
        ]
    }

    /// The test set's value after each epoch, as dots.
    fn per_epoch(&self, y: impl Fn(&cnn_train::EpochStats) -> f64, scale: f64) -> Scatter {
        let data: Vec<Vec<f64>> = self.run.epochs.iter().map(|e| vec![e.epoch as f64, round(y(e) * scale)]).collect();
        Scatter::new()
            .name(format!("{} (test)", self.label))
            .symbol(Symbol::Diamond)
            .symbol_size(10)
            .item_style(ItemStyle::new().color(self.colour).border_color("#fff").border_width(1))
            .data(data)
    }
}

/// The charts' common frame: a title, hover values along the x axis, the legend of run labels.
fn frame(title: &str, traces: &[Trace], y: Axis) -> charming::Chart {
    // Redrawn up to five times a second while a run trains: an animation would restart each time.
    charming::Chart::new()
        .animation(false)
        .title(Title::new().text(title).left("center").text_style(charming::element::TextStyle::new().font_size(14)))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0).data(traces.iter().map(|t| t.label.clone()).collect()))
        .grid(Grid::new().left(56).right(56).top(36).bottom(64 + 18 * traces.len().saturating_sub(1) as i32))
        .x_axis(
            Axis::new().type_(AxisType::Value).name("epoch").name_location(NameLocation::Middle).name_gap(22).min(0),
        )
        .y_axis(y)
}

fn loss_chart(traces: &[Trace]) -> charming::Chart {
    let y = Axis::new().type_(AxisType::Log);
    traces.iter().fold(frame("Loss (log scale), test loss ◆", traces, y), |chart, t| {
        let [raw, smooth] = t.per_step(|s| Some(f64::from(s.loss)), 1.0);
        chart.series(raw).series(smooth).series(t.per_epoch(|e| f64::from(e.test_loss), 1.0))
    })
}

fn accuracy_chart(traces: &[Trace]) -> charming::Chart {
    let y = Axis::new().type_(AxisType::Value).max(100);
    traces.iter().fold(frame("Accuracy (%), test accuracy ◆", traces, y), |chart, t| {
        let [raw, smooth] = t.per_step(|s| s.accuracy.map(f64::from), 100.0);
        chart.series(raw).series(smooth).series(t.per_epoch(|e| f64::from(e.test_accuracy), 100.0))
    })
}

fn rate_chart(traces: &[Trace]) -> charming::Chart {
    let chart = frame("Learning rate (left), examples/s (right, dashed)", traces, Axis::new().type_(AxisType::Value))
        .y_axis(Axis::new().type_(AxisType::Value));
    traces.iter().fold(chart, |chart, t| {
        let line = |data: Vec<(f64, f64)>| {
            Line::new()
                .show_symbol(false)
                .item_style(ItemStyle::new().color(t.colour))
                .data(data.into_iter().map(|(x, y)| vec![round(x), round(y)]).collect::<Vec<_>>())
        };
        let rate = line(t.points(|s| s.learning_rate))
            .name(t.label.clone())
            .line_style(LineStyle::new().color(t.colour).width(2));
        let speed = line(t.points(|s| s.examples_per_sec))
            .name(format!("{} (examples/s)", t.label))
            .y_axis_index(1)
            .line_style(LineStyle::new().color(t.colour).type_(LineStyleType::Dashed));
        chart.series(rate).series(speed)
    })
}

/// The drawn runs, in the order they are drawn.
fn traces(runs: Runs) -> Vec<Trace> {
    let drawn = runs.drawn.get_untracked();
    let picked: Vec<Run> =
        runs.list.with_untracked(|l| drawn.iter().filter_map(|id| l.iter().find(|r| r.id == *id).cloned()).collect());
    let labels = legend::labels(&picked.iter().collect::<Vec<_>>());
    picked
        .into_iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (run, label))| {
            let steps_per_epoch = run.images.0.div_ceil(run.settings.batch_size.max(1)).max(1) as f64;
            let x = (1..=run.steps.len()).map(|i| i as f64 / steps_per_epoch).collect();
            Trace { label, colour: COLOURS[i % COLOURS.len()], x, steps_per_epoch, run }
        })
        .collect()
}

/// The three charts, redrawn at most five times a second while a run reports its steps.
#[component]
pub fn Charts(runs: Runs) -> impl IntoView {
    let boxes = [NodeRef::<leptos::html::Div>::new(), NodeRef::new(), NodeRef::new()];
    let charts = StoredValue::new_local(Vec::<EchartsInstance>::new());
    let failed = RwSignal::new(None::<String>);
    let draw = move || {
        if charts.with_value(Vec::is_empty) {
            let made: Result<Vec<_>, _> = boxes.iter().filter_map(|b| b.get_untracked()).map(|el| init(&el)).collect();
            match made {
                Ok(made) => charts.set_value(made),
                Err(e) => {
                    return failed.set(Some(format!("The charts cannot be drawn: ECharts did not load ({e:?}).")));
                }
            }
        }
        let traces = traces(runs);
        // Series are replaced, not merged: a run taken off the charts goes; the legend keeps
        // what the learner switched off.
        let how = js_sys::JSON::parse(r#"{"replaceMerge":["series"]}"#).unwrap_or_default();
        let options = [loss_chart(&traces), accuracy_chart(&traces), rate_chart(&traces)];
        charts.with_value(|charts| {
            for (chart, option) in charts.iter().zip(options) {
                let json = serde_json::to_string(&option).unwrap_or_default();
                if let Ok(option) = js_sys::JSON::parse(&json) {
                    chart.set_option(&option, &how);
                }
            }
        });
    };
    let scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        runs.list.track();
        runs.drawn.track();
        runs.stepped.track();
        if !scheduled.get_value() {
            scheduled.set_value(true);
            set_timeout(
                move || {
                    scheduled.set_value(false);
                    draw();
                },
                std::time::Duration::from_millis(200),
            );
        }
    });
    let _resize = window_event_listener(leptos::ev::resize, move |_| {
        charts.with_value(|c| c.iter().for_each(EchartsInstance::resize))
    });
    let [loss, accuracy, rate] = boxes;
    view! {
        <section class="charts" aria-label="training charts">
            {move || failed.get().map(|f| view! { <p class="error">{f}</p> })}
            <div id="loss-chart" class="chart" node_ref=loss></div>
            <div id="accuracy-chart" class="chart" node_ref=accuracy></div>
            <div id="rate-chart" class="chart" node_ref=rate></div>
        </section>
    }
}
