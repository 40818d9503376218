// IndexedDB, the page's only storage: the account key ("keys") and the places this person registered
// ("places", by party id, for the distance shown to them). Nothing is kept in localStorage.

const database = "partyline";
const stores = ["keys", "places"];

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(database, 1);
    request.onupgradeneeded = () => {
      for (const store of stores) {
        if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(store, mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(store, mode);
      const request = action(transaction.objectStore(store));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

export const storage = {
  get: (store, key) => transact(store, "readonly", (objects) => objects.get(key)),
  put: (store, key, value) => transact(store, "readwrite", (objects) => objects.put(value, key)),
};
