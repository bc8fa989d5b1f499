//! The operations of the two published SOAP services, defined once: part of the contract, like
//! the payload XSDs. Their wire names appear as text only here; the gateway's dispatch, access
//! check and WSDL, the service catalogue, and the register's audit trail all derive from these
//! types.

/// The SOAP services the gateway publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapService {
    Import,
    Export,
}

impl SoapService {
    pub const ALL: [SoapService; 2] = [SoapService::Import, SoapService::Export];

    /// The service's name, which is also its `servicekode` in the service catalogue.
    pub fn name(self) -> &'static str {
        match self {
            SoapService::Import => "ImportService",
            SoapService::Export => "ExportService",
        }
    }

    /// Every operation of the service, in the order the WSDL lists them.
    pub fn operations(self) -> impl Iterator<Item = Operation> {
        Operation::all().filter(move |op| op.service() == self)
    }
}

/// Declares an operation enum with each variant's wire name and the list of all of them.
macro_rules! operations {
    ($(#[$doc:meta])* $enum:ident { $($variant:ident = $wire:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $enum { $($variant,)+ }

        impl $enum {
            /// Every operation, in the order the WSDL lists them.
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)+];

            /// The operation's name on the wire (the Body's element, the WSDL operation).
            pub fn name(self) -> &'static str {
                match self { $($enum::$variant => $wire,)+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|op| op.name() == name)
            }
        }
    };
}

operations! {
    /// ImportService (docs/registry.md §4).
    ImportOperation {
        HelloWorld = "HelloWorld",
        GetXmlSchema = "GetXMLSchema",
        ValidateXmlAgainstSchema = "ValidateXmlAgainstSchema",
        InsertDaginstitution = "InsertDaginstitution",
        UpdateDaginstitution = "UpdateDaginstitution",
        DeleteDaginstitution = "DeleteDaginstitution",
        InsertAnvisningsEnhed = "InsertAnvisningsEnhed",
        UpdateAnvisningsEnhed = "UpdateAnvisningsEnhed",
        DeleteAnvisningsEnhed = "DeleteAnvisningsEnhed",
        InsertAlternativAdresse = "InsertAlternativAdresse",
        UpdateAlternativAdresse = "UpdateAlternativAdresse",
        DeleteAlternativAdresse = "DeleteAlternativAdresse",
        MoveAnvisningsEnhed = "MoveAnvisningsEnhed",
        MoveAlternativAdresse = "MoveAlternativAdresse",
    }
}

operations! {
    /// ExportService (docs/registry.md §4 and our additions).
    ExportOperation {
        HelloWorld = "HelloWorld",
        GetAllDagtilbud = "GetAllDagtilbud",
        GetDagtilbudByDagInstitutionsNummer = "GetDagtilbudByDagInstitutionsNummer",
        GetDagtilbudByAdmKommuneNummer = "GetDagtilbudByAdmKommuneNummer",
        GetAllDaginstitutioner = "GetAllDaginstitutioner",
        GetDaginstitutionByNummer = "GetDaginstitutionByNummer",
        GetDaginstitutionByNavn = "GetDaginstitutionByNavn",
        GetAllAnvisningsEnheder = "GetAllAnvisningsEnheder",
        GetAnvisningsEnhederByPnummer = "GetAnvisningsEnhederByPnummer",
        GetAnvisningsEnhederByNummer = "GetAnvisningsEnhederByNummer",
        GetAnvisningsEnhederByCvrnummer = "GetAnvisningsEnhederByCvrnummer",
        GetAnvisningsEnhederByNavn = "GetAnvisningsEnhederByNavn",
        GetAnvisningsEnhederByDaginstitutionsnummer = "GetAnvisningsEnhederByDaginstitutionsnummer",
        GetAllAlternativAdresser = "GetAllAlternativAdresser",
        GetAlternativAdresserByCvrnummer = "GetAlternativAdresserByCvrnummer",
        GetAlternativAdresserByPnummer = "GetAlternativAdresserByPnummer",
        GetAlternativAdresserByNummer = "GetAlternativAdresserByNummer",
        GetAlternativAdresserByAnvisningsenhedsnummer = "GetAlternativAdresserByAnvisningsenhedsnummer",
        GetAlternativAdresserByNavn = "GetAlternativAdresserByNavn",
        GetKodetabel = "GetKodetabel",
        GetAllKodetabeller = "GetAllKodetabeller",
        GetAendringerSiden = "GetAendringerSiden",
        GetHistorik = "GetHistorik",
    }
}

impl ImportOperation {
    /// Writes change the register; they answer an ImportSvar and need a data-access agreement
    /// with every owner they touch (docs/tilslutning.md: writing needs one, reading does not).
    pub fn is_write(self) -> bool {
        !matches!(self, Self::HelloWorld | Self::GetXmlSchema | Self::ValidateXmlAgainstSchema)
    }
}

impl ExportOperation {
    /// Full extracts are streamed and limited per system per day (docs/tilslutning.md step 5).
    pub fn is_full_extract(self) -> bool {
        matches!(
            self,
            Self::GetAllDagtilbud
                | Self::GetAllDaginstitutioner
                | Self::GetAllAnvisningsEnheder
                | Self::GetAllAlternativAdresser
        )
    }

    /// Answers that are streamed as they are read: the full extracts and the nested
    /// `dagtilbudsRegister` extracts of one institution or one kommune.
    pub fn is_streamed(self) -> bool {
        self.is_full_extract()
            || matches!(self, Self::GetDagtilbudByDagInstitutionsNummer | Self::GetDagtilbudByAdmKommuneNummer)
    }
}

/// An operation of either service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Import(ImportOperation),
    Export(ExportOperation),
}

impl Operation {
    /// Every operation of both services, ImportService's first.
    pub fn all() -> impl Iterator<Item = Operation> {
        let import = ImportOperation::ALL.iter().copied().map(Operation::Import);
        import.chain(ExportOperation::ALL.iter().copied().map(Operation::Export))
    }

    /// The operation of `service` with this wire name.
    pub fn from_name(service: SoapService, name: &str) -> Option<Operation> {
        match service {
            SoapService::Import => ImportOperation::from_name(name).map(Operation::Import),
            SoapService::Export => ExportOperation::from_name(name).map(Operation::Export),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Operation::Import(op) => op.name(),
            Operation::Export(op) => op.name(),
        }
    }

    pub fn service(self) -> SoapService {
        match self {
            Operation::Import(_) => SoapService::Import,
            Operation::Export(_) => SoapService::Export,
        }
    }

    /// Whether the caller needs an approved data-access agreement with the data owner, as the
    /// service catalogue records it.
    pub fn needs_data_agreement(self) -> bool {
        matches!(self, Operation::Import(op) if op.is_write())
    }

    pub fn is_full_extract(self) -> bool {
        matches!(self, Operation::Export(op) if op.is_full_extract())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique_per_service() {
        for service in SoapService::ALL {
            let names: Vec<&str> = service.operations().map(Operation::name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{service:?}");
            for op in service.operations() {
                assert_eq!(Operation::from_name(service, op.name()), Some(op));
            }
        }
        assert_eq!(Operation::from_name(SoapService::Import, "GetAllDagtilbud"), None);
    }

    #[test]
    fn only_writes_need_a_data_agreement_and_only_exports_are_extracts() {
        let needing: Vec<&str> = Operation::all().filter(|o| o.needs_data_agreement()).map(Operation::name).collect();
        assert_eq!(needing.len(), 11, "{needing:?}");
        assert!(needing.iter().all(|n| n.starts_with("Insert")
            || n.starts_with("Update")
            || n.starts_with("Delete")
            || n.starts_with("Move")));
        let extracts: Vec<&str> = Operation::all().filter(|o| o.is_full_extract()).map(Operation::name).collect();
        assert!(extracts.iter().all(|n| n.starts_with("GetAll")) && extracts.len() == 4, "{extracts:?}");
    }
}
