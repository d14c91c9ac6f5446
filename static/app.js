// Small behaviours the pages need without inline script (the CSP forbids it):
// - a checkbox with data-select-all="<form selector>" ticks every enabled `file` box there;
// - a button with data-clear="<selector>" empties that element (closing a panel).
document.addEventListener('change', (event) => {
  const all = event.target.closest('[data-select-all]');
  if (!all) return;
  const form = document.querySelector(all.dataset.selectAll);
  if (!form) return;
  for (const box of form.querySelectorAll('input[type=checkbox][name=file]:not(:disabled)')) {
    box.checked = all.checked;
  }
});

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-clear]');
  if (!button) return;
  const target = document.querySelector(button.dataset.clear);
  if (target) target.replaceChildren();
});
