/// Why a spec cannot become a network, naming the layer. Found before anything is built, so a
/// bad spec reaches the user as a sentence, never as a panic inside burn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "{layer} ({op}) gets a {height}x{width} map and would shrink it below 1x1: use images larger than {size} pixels or fewer blocks"
    )]
    Shrinks { layer: String, op: String, height: usize, width: usize, size: usize },
    #[error("{layer} has zero {what}: every layer needs at least one")]
    Zero { layer: String, what: &'static str },
    #[error("the model has no {0}: add at least one")]
    Empty(&'static str),
    #[error(
        "{layer} ({op}) gets {inputs} input channels and makes {outputs}, which {groups} groups cannot split evenly: make both multiples of {groups}"
    )]
    Groups { layer: String, op: String, inputs: usize, outputs: usize, groups: usize },
    #[error(
        "{layer} has a bottleneck of {channels} channels, which groups of {group_width} cannot split evenly: pick a group width that divides it"
    )]
    GroupWidth { layer: String, channels: usize, group_width: usize },
    #[error("{layer} has a bottleneck multiplier of {value}: it must be a positive number")]
    Bottleneck { layer: String, value: f64 },
    #[error("{layer} drops with probability {value}: it must be at least 0 and below 1")]
    Dropout { layer: String, value: f64 },
    #[error(
        "{layer} would hold {count} {what}, more than the {max} a browser can keep in memory: use fewer channels or features"
    )]
    TooLarge { layer: String, what: &'static str, count: u64, max: u64 },
    #[error(
        "the model would have at least {count} {what}, more than the {max} this tool takes: use fewer or narrower layers"
    )]
    Limit { what: &'static str, count: u64, max: u64 },
    #[error("the input's {what} is {value}, more than the {max} this tool takes")]
    Input { what: &'static str, value: usize, max: usize },
    #[error("{layer} cannot work: {what}")]
    Mismatch { layer: String, what: String },
}
