// Small progressive enhancements; every page works without this file.
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.hasAttribute("data-submit-on-change")) {
    target.form.requestSubmit();
  }
});
