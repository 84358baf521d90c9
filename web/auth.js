// auth.js — the daemon's bearer token, for a daemon started with
// --token-file (it needs one whenever it listens beyond loopback). The page
// asks for it once, when the API first answers 401, and keeps it in this
// tab's sessionStorage only: it is gone when the tab closes and is never
// sent anywhere but to the daemon that served the page.

const KEY = 'fa-insight-token';
let asking = null; // one prompt at a time, whatever asks

export function token() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

// Resolves once the user has given a token (a rejected one asks again:
// `wrong` says so).
export function askToken(wrong) {
  if (asking) return asking;
  asking = new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    dialog.id = 'token-dialog';
    dialog.setAttribute('aria-labelledby', 'token-title');
    const form = document.createElement('form');
    form.method = 'dialog';
    const title = document.createElement('h2');
    title.id = 'token-title';
    title.textContent = 'This fa-insightd needs its access token';
    const note = document.createElement('p');
    note.textContent = wrong
      ? 'The token was not accepted. Give the one in the file of the daemon\u2019s --token-file.'
      : 'Give the token from the file of the daemon\u2019s --token-file. It stays in this tab only.';
    const label = document.createElement('label');
    label.textContent = 'Token ';
    const input = document.createElement('input');
    input.type = 'password';
    input.name = 'token';
    input.autocomplete = 'off';
    input.required = true;
    label.append(input);
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Connect';
    form.append(title, note, label, button);
    dialog.append(form);
    document.body.append(dialog);
    dialog.addEventListener('cancel', (e) => e.preventDefault()); // nothing works without it
    form.addEventListener('submit', () => {
      const value = input.value.trim();
      if (!value) return;
      try {
        sessionStorage.setItem(KEY, value);
      } catch {
        /* storage refused: the token lives as long as this prompt's answer */
      }
      dialog.close();
      dialog.remove();
      asking = null;
      resolve(value);
    });
    dialog.showModal();
    input.focus();
  });
  return asking;
}
