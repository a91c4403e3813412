fn main() {
    cnn_train::constructors::run();
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::page::App);
}
