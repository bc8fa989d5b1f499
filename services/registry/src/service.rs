//! The register's operations as the import and export services use them: rules first, then one
//! storage transaction. Transport-free: callers map their requests to these types.

use std::sync::Arc;

use crate::cache::CodeTableCache;
use crate::codes::CodeTables;
use crate::error::{Fejl, FejlKode, RegistryError};
use crate::model::{Aktoer, Daginstitution, DaginstitutionData};
use crate::numbers;
use crate::rules;
use crate::storage::{RegistryStore, StoreError};

#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn RegistryStore>,
    codes: Arc<CodeTableCache>,
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NumbersExhausted => RegistryError::afvist(Fejl::new(
                FejlKode::NumreOpbrugt,
                "daginstitutionsNummer",
                "Registerets nummerserie er opbrugt; kontakt registerets drift.",
            )),
            other => RegistryError::Storage(other.to_string()),
        }
    }
}

impl Registry {
    pub fn new(store: Arc<dyn RegistryStore>, codes: Arc<CodeTableCache>) -> Self {
        Registry { store, codes }
    }

    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }

    pub async fn code_tables(&self) -> Result<Arc<CodeTables>, RegistryError> {
        Ok(self.codes.get(self.store.as_ref()).await?)
    }

    /// Every check of an insert, without writing (ValidateXmlAgainstSchema uses it too).
    pub async fn check_insert_daginstitution(&self, data: &DaginstitutionData) -> Result<(), RegistryError> {
        let codes = self.code_tables().await?;
        let fejl = rules::check_daginstitution(data, &codes);
        if fejl.is_empty() { Ok(()) } else { Err(RegistryError::Afvist(fejl)) }
    }

    pub async fn insert_daginstitution(
        &self,
        data: &DaginstitutionData,
        aktoer: &Aktoer,
    ) -> Result<Daginstitution, RegistryError> {
        self.check_insert_daginstitution(data).await?;
        Ok(self.store.insert_daginstitution(data, aktoer).await?)
    }

    /// A daginstitution by number; a number of the wrong shape simply matches nothing.
    pub async fn daginstitution(&self, nummer: &str) -> Result<Option<Daginstitution>, RegistryError> {
        if !numbers::is_valid(nummer) {
            return Ok(None);
        }
        Ok(self.store.get_daginstitution(nummer).await?)
    }
}
