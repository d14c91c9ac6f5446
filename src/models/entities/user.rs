use sea_orm::entity::prelude::*;

/// A local account. Its `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub last_login_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("user::Model")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("is_admin", &self.is_admin)
            .field("is_active", &self.is_active)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("last_login_at", &self.last_login_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_leaves_out_the_password_hash() {
        let now = chrono::Utc::now();
        let user = super::Model {
            id: 7,
            email: "ada@campus.edu".into(),
            display_name: "Ada".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            is_admin: false,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        };
        let shown = format!("{user:?}");
        assert!(
            shown.contains("ada@campus.edu") && !shown.contains("argon2"),
            "{shown}"
        );
    }
}
