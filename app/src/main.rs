//! The page: UI only. Data comes from `data`, every number from the engine crates' events.

mod data;
mod page;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(page::App);
}
