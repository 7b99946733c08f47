// Small progressive enhancements; every page works without this file.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-submit-on-change")) {
    target.form.requestSubmit();
  }
});

// htmx's history snapshot stores a page's HTML, and HTML does not record the value a
// user picked in a form control, so after Back or Forward a filter form would show
// the values of the page's first load. Forms marked data-sync-with-url take their
// values from the URL's query parameters instead. A select whose parameter is
// missing or not one of its options shows its first option, which is the default.
function syncFormsWithUrl() {
  const params = new URLSearchParams(window.location.search);
  for (const form of document.querySelectorAll("form[data-sync-with-url]")) {
    for (const control of form.elements) {
      if (!control.name) continue;
      const value = params.get(control.name) ?? "";
      if (control instanceof HTMLSelectElement) {
        const known = Array.from(control.options).some((option) => option.value === value);
        control.value = known ? value : (control.options[0]?.value ?? "");
      } else if (control instanceof HTMLInputElement) {
        if (control.type === "checkbox" || control.type === "radio") {
          control.checked = params.getAll(control.name).includes(control.value);
        } else if (control.type !== "hidden" && control.type !== "submit") {
          control.value = value;
        }
      }
    }
  }
}

syncFormsWithUrl();
// A browser can refill form controls from its saved form state when a page is
// reopened with Back or Forward, and `pageshow` fires after that refill.
window.addEventListener("pageshow", syncFormsWithUrl);
document.addEventListener("htmx:historyRestore", syncFormsWithUrl);
