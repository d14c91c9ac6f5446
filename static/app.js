// Small behaviours the pages need without inline script (the CSP forbids it):
// - a checkbox with data-select-all="<form selector>" ticks every enabled `file` box there,
//   and shows ticked / part-ticked / unticked as the boxes change (rows added by
//   "Load more" included);
// - a button with data-clear="<selector>" empties that element (closing a panel).
function fileBoxes(form) {
  return form.querySelectorAll('input[type=checkbox][name=file]:not(:disabled)');
}

function refreshSelectAll() {
  for (const all of document.querySelectorAll('[data-select-all]')) {
    const form = document.querySelector(all.dataset.selectAll);
    if (!form) continue;
    const boxes = [...fileBoxes(form)];
    const ticked = boxes.filter((b) => b.checked).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
}

document.addEventListener('change', (event) => {
  const all = event.target.closest('[data-select-all]');
  if (all) {
    const form = document.querySelector(all.dataset.selectAll);
    if (form) {
      for (const box of fileBoxes(form)) box.checked = all.checked;
    }
  }
  refreshSelectAll();
});

document.addEventListener('htmx:afterSwap', refreshSelectAll);

document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-clear]');
  if (!button) return;
  const target = document.querySelector(button.dataset.clear);
  if (target) target.replaceChildren();
});
