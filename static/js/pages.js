// Behaviour every page shares, kept out of the markup (the Content-Security-Policy allows
// no inline script): a select marked data-autosubmit submits its form when it changes.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.requestSubmit();
  }
});
